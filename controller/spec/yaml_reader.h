// A bounded reader of untrusted YAML: turns a file of YAML documents into
// plain node trees, which spec_parser.cc then checks against the
// NodeContainer schema.
//
// The parser is libyaml's, the library go-yaml v2 (the Kubernetes API
// server's YAML reader) is a line-by-line port of: a file is syntactically
// valid here exactly when it is there. libyaml streams its events and looks
// ahead at most 1024 characters, so memory stays proportional to the input.
//
// Hostile input is bounded: content over kMaxYamlBytes is refused unread;
// NUL and other control characters, invalid UTF-8 and more than 20000 flow
// indicators ('[', '{', ',') are refused before the parser sees them;
// nesting depth (64) and nodes per document (10000) are capped. Aliases are
// never resolved (no "billion laughs"): a document holding one is refused. No
// input makes these functions crash, throw or loop.
//
// Scalars are typed as go-yaml v2 (YAML 1.1) types them, so that a file is
// refused here exactly when `kubectl apply` would refuse it.
#ifndef BERTH_CONTROLLER_SPEC_YAML_READER_H_
#define BERTH_CONTROLLER_SPEC_YAML_READER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace berth::controller {

// Largest content ReadYamlDocuments accepts.
inline constexpr size_t kMaxYamlBytes = 1 << 20;

enum class YamlKind { kNull, kScalar, kSequence, kMap, kAlias };

// One node of a document. Positions are 1-based.
struct YamlNode {
  YamlKind kind;
  int line;
  int column;
  // Scalars and collections: "?" untagged and plain, "!" untagged and
  // quoted (or a block scalar), else the resolved tag ("tag:yaml.org,2002:str"
  // for !!str, "!custom"). Empty for kNull and kAlias.
  std::string tag;
  std::string value;  // scalars
  // Indexes into YamlDocument::nodes: a sequence's items, or a mapping's
  // keys and values alternating.
  std::vector<int> children;
};

// A problem with one node; the rest of the file is still readable.
struct YamlNodeError {
  int line = 0;  // 1-based
  int column = 0;
  std::string path;  // field path of the node (see FieldPath), may be empty
  std::string reason;
};

// One non-empty document as a tree.
struct YamlDocument {
  std::vector<YamlNode> nodes;  // nodes[0] is the root
  int line = 0;                 // 1-based line where the document starts
  // Set when the document must not be decoded at all (it holds an alias).
  std::optional<YamlNodeError> refused;
};

// A problem that makes the whole file unreadable.
struct YamlFileError {
  int line = 0;  // 1-based; 0 when the error has no position
  int column = 0;
  std::string reason;
};

// Reads every document in `content` and calls `on_document` with each
// non-empty one, in order (a document that is only a null, e.g. "---\n", is
// skipped). Returns the first error that makes the file unreadable (syntax,
// invalid bytes, a size or nesting cap); documents already handed to
// `on_document` must then be discarded. `on_document` should not throw: an
// exception from it is reported as such an error.
std::optional<YamlFileError> ReadYamlDocuments(
    absl::string_view content, const std::function<void(const YamlDocument&)>& on_document);

// One key and value of a mapping.
struct YamlEntry {
  const YamlNode* key;
  const YamlNode* value;
  // Set when the key cannot name a field: it is not a string, repeats an
  // earlier key or contains NUL. Otherwise key->value is the name.
  std::optional<YamlNodeError> error;
};

// The entries of mapping `map` (a node of `doc`) in document order, with
// their keys checked; `path` is the mapping's field path.
std::vector<YamlEntry> MappingEntries(const YamlDocument& doc, const YamlNode& map,
                                      absl::string_view path);

// A node's type as YAML 1.1 resolves it. kTag: a scalar with an application
// tag such as !custom.
enum class YamlType { kString, kNull, kBool, kInt, kFloat, kSeq, kMap, kAlias, kTag };
YamlType TypeOf(const YamlNode& node);

// "a string", "an integer", "a mapping", "a value tagged \"!custom\"", ...
std::string Describe(const YamlNode& node);

// The value of a node whose TypeOf is kBool ("yes", "On", "true", ...).
bool YamlBoolValue(const YamlNode& node);

// Parses a YAML 1.1 integer: [-+] then decimal, 0x hex, 0o or 0 octal, 0b
// binary; '_' separators allowed. False if not an integer; true with
// *overflow set if it does not fit in int64_t.
bool ParseYamlInt(absl::string_view text, int64_t* out, bool* overflow);

// Field paths as errors show them: FieldPath("spec", "image") is
// "spec.image", a key other than [A-Za-z0-9_-]+ or longer than
// kMaxShownKeyBytes is quoted and cut as QuoteForError(key,
// kMaxShownKeyBytes) does ("metadata.labels[\"a/b\"]"); ItemPath("spec.env",
// 1) is "spec.env[1]".
std::string FieldPath(absl::string_view path, absl::string_view key);
std::string ItemPath(absl::string_view path, size_t index);

// What an error message shows of a file's text (a value, a key, a path):
// at most `max_bytes` bytes of it, C-escaped (no raw control characters, no
// bytes above 0x7f), "..." when cut. Error messages never show more of a
// file: it may be something else than a manifest.
inline constexpr size_t kMaxShownBytes = 64;
// Keys are cut shorter: a file that is not YAML for us (/etc/shadow, a .env
// file) reads as keys, a whole line each.
inline constexpr size_t kMaxShownKeyBytes = 32;
std::string EscapeForError(absl::string_view text, size_t max_bytes = kMaxShownBytes);
// EscapeForError in double quotes.
std::string QuoteForError(absl::string_view text, size_t max_bytes = kMaxShownBytes);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_YAML_READER_H_
