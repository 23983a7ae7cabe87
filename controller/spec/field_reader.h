// Typed fields of a YAML mapping, with errors as the parser reports them
// (file:line:column, the field's path, a reason that quotes little of the
// input): the generic half of the NodeContainer parser (spec_parser.cc).
// Each reader reports a field that is present but invalid and leaves its
// output unchanged; an absent field is not an error unless Require says so.
#ifndef BERTH_CONTROLLER_SPEC_FIELD_READER_H_
#define BERTH_CONTROLLER_SPEC_FIELD_READER_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/spec/spec_parser.h"
#include "controller/spec/yaml_reader.h"

namespace berth::controller {

// Kubernetes label values and the name part of label and annotation keys: 1-63
// of [A-Za-z0-9._-], starting and ending alphanumeric.
bool IsLabelName(absl::string_view s);
// Label and annotation keys: [DNS subdomain "/"] name.
bool IsQualifiedName(absl::string_view key);

// A mapping's fields after key checks; null values are left out.
struct Fields {
  const YamlNode* map = nullptr;  // nullptr when absent or not a mapping
  std::string path;
  // Keys (views of the document's key nodes) and values in document order,
  // without the null values. A schema's mapping has a few keys, so Get
  // looks them up one by one.
  std::vector<std::pair<absl::string_view, const YamlNode*>> values;

  const YamlNode* Get(absl::string_view key) const {
    for (const auto& [name, value] : values) {
      if (name == key) return value;
    }
    return nullptr;
  }
  std::string Path(absl::string_view key) const { return FieldPath(path, key); }
};

// What the keys of a string map must be: anything, label keys (and values),
// or annotation keys.
enum class MapKind { kPlain, kLabels, kAnnotations };

class FieldReader {
 public:
  // `doc` must outlive the reader; `file` names it in errors.
  FieldReader(const YamlDocument& doc, absl::string_view file)
      : nodes_(doc.nodes), doc_(doc), file_(file) {}

  std::vector<ParseError>& errors() { return errors_; }

 protected:
  const YamlNode& At(int index) const { return nodes_[index]; }
  void Error(const YamlNode& at, std::string field, std::string reason) {
    errors_.push_back(
        ParseError{std::string(file_), at.line, at.column, std::move(field), std::move(reason)});
  }
  void Error(const YamlNodeError& e) {
    errors_.push_back(ParseError{std::string(file_), e.line, e.column, e.path, e.reason});
  }

  // Checks a mapping's keys (strings, no duplicates, all in `accepted`
  // unless it is empty).
  Fields ReadFields(const YamlNode& n, std::string path,
                    std::initializer_list<absl::string_view> accepted);
  Fields Sub(const Fields& f, absl::string_view key,
             std::initializer_list<absl::string_view> accepted) {
    const YamlNode* n = f.Get(key);
    return n ? ReadFields(*n, f.Path(key), accepted) : Fields{};
  }
  // Reports `key` missing from an existing mapping; true when present.
  bool Require(const Fields& f, absl::string_view key) {
    if (f.Get(key)) return true;
    if (f.map) Error(*f.map, f.Path(key), "required field is missing");
    return false;
  }
  // `path` makes the node's field path for an error message (only then).
  bool ReadString(const YamlNode& n, absl::FunctionRef<std::string()> path, std::string* out);
  bool ReadIntOrString(const YamlNode& n, absl::FunctionRef<std::string()> path, std::string* out);
  // Field readers: return the node read, or nullptr when the field is
  // absent or was reported as invalid.
  const YamlNode* String(const Fields& f, absl::string_view key, std::string* out) {
    const YamlNode* n = f.Get(key);
    return n && ReadString(
                    *n, [&] { return f.Path(key); }, out)
               ? n
               : nullptr;
  }
  const YamlNode* IntOrString(const Fields& f, absl::string_view key, std::string* out) {
    const YamlNode* n = f.Get(key);
    return n && ReadIntOrString(
                    *n, [&] { return f.Path(key); }, out)
               ? n
               : nullptr;
  }
  void Int(const Fields& f, absl::string_view key, int64_t min, int64_t max, int64_t* out);
  void Bool(const Fields& f, absl::string_view key, bool* out);
  void StringList(const Fields& f, absl::string_view key, std::vector<std::string>* out);
  void StringMap(const Fields& f, absl::string_view key, MapKind kind,
                 std::map<std::string, std::string>* out);
  // A Kubernetes quantity (cpu: millicores, else bytes) of at least `min`
  // (`min_text` says it in errors).
  void Quantity(const Fields& f, absl::string_view key, bool cpu, int64_t min,
                absl::string_view min_text, int64_t* out);
  // An absolute path without ".." components, cleaned ("//a/./b/" -> "/a/b").
  void Path(const Fields& f, absl::string_view key, std::string* out);
  // Reports a validator's error on field `key`.
  void Check(const Fields& f, absl::string_view key, const absl::Status& status) {
    if (!status.ok()) {
      Error(*f.Get(key), f.Path(key), std::string(status.message()));
    }
  }

  const std::vector<YamlNode>& nodes_;
  const YamlDocument& doc_;
  absl::string_view file_;
  std::vector<ParseError> errors_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_FIELD_READER_H_
