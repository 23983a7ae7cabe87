#include "controller/spec_parser.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <set>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "controller/quantity.h"
#include "runtime/names.h"

namespace berth::controller {
namespace {

constexpr size_t kMaxDepth = 64;
constexpr size_t kMaxNodesPerDocument = 10000;
// '[', '{' and ',' in a whole file: yaml-cpp turns each into several queued
// tokens (~250 bytes), so a file of "[[[[..." would cost ~250 MiB.
constexpr int kMaxFlowCharacters = 20000;
// How far yaml-cpp may read past its last event (a flow collection's tokens
// are all queued before its first event; a scalar is read whole).
constexpr size_t kMaxLookaheadBytes = 256 << 10;
constexpr size_t kMaxErrors = 100;
constexpr int64_t kMaxGracePeriodSeconds = 31536000;  // one year
constexpr int64_t kMinMemoryBytes = 4096;
constexpr int64_t kMaxId = 4294967294;  // (uid_t)-1 means "unchanged"

// An error that makes the whole file unreadable.
struct FileError {
  int line = 0;  // 1-based, 0 if none
  int column = 0;
  std::string reason;
};

std::string Quote(absl::string_view s) {
  constexpr size_t kShown = 64;
  std::string shown = absl::CHexEscape(s.substr(0, kShown));
  if (s.size() > kShown) shown += "...";
  return absl::StrCat("\"", shown, "\"");
}

// Rejects what yaml-cpp should never see: oversized input, bytes YAML does
// not allow (NUL and other C0 controls, invalid UTF-8, which also excludes
// UTF-16/32 input) and more flow indicators than we let yaml-cpp queue.
std::optional<FileError> PreScan(absl::string_view content) {
  if (content.size() > kMaxManifestBytes) {
    return FileError{
        0, 0,
        absl::StrCat("file larger than 1 MiB (", content.size(), " bytes)")};
  }
  int line = 1;
  size_t line_start = 0;
  int flow_characters = 0;
  for (size_t i = 0; i < content.size();) {
    const auto c = static_cast<unsigned char>(content[i]);
    const int column = static_cast<int>(i - line_start) + 1;
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
        return FileError{line, column,
                         absl::StrFormat("control character 0x%02x is not "
                                         "allowed in YAML",
                                         static_cast<int>(c))};
      }
      if ((c == '[' || c == '{' || c == ',') &&
          ++flow_characters > kMaxFlowCharacters) {
        return FileError{line, column,
                         absl::StrCat("more than ", kMaxFlowCharacters,
                                      " '[', '{' and ',' characters")};
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: lead byte, continuation bytes, no overlong forms,
    // no surrogates, nothing above U+10FFFF.
    size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool valid = length != 0 && c <= 0xf4 && i + length <= content.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(content[i + k]) & 0xc0) == 0x80;
    }
    if (valid && length > 2) {
      const auto c1 = static_cast<unsigned char>(content[i + 1]);
      valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 > 0x9f) &&
              !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 > 0x8f);
    }
    if (!valid) return FileError{line, column, "invalid UTF-8"};
    i += length;
  }
  return std::nullopt;
}

// Serves `content` to yaml-cpp in chunks and reports end of input once
// yaml-cpp has read more than kMaxLookaheadBytes past its last event.
class BoundedStreamBuf : public std::streambuf {
 public:
  BoundedStreamBuf(absl::string_view content, const int* last_event_pos)
      : content_(content), last_event_pos_(last_event_pos) {}

  bool exhausted() const { return exhausted_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (served_ >= content_.size()) return traits_type::eof();
    const size_t consumed = static_cast<size_t>(std::max(*last_event_pos_, 0));
    if (served_ > consumed + kMaxLookaheadBytes) {
      exhausted_ = true;
      return traits_type::eof();
    }
    const size_t n = std::min(sizeof(chunk_), content_.size() - served_);
    std::memcpy(chunk_, content_.data() + served_, n);
    served_ += n;
    setg(chunk_, chunk_, chunk_ + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  absl::string_view content_;
  const int* last_event_pos_;
  size_t served_ = 0;
  bool exhausted_ = false;
  char chunk_[4096];
};

// ---- A document as a plain tree, built from yaml-cpp events. ----

enum class Kind { kNull, kScalar, kSequence, kMap, kAlias };

struct Node {
  Kind kind;
  int line;    // 0-based, as yaml-cpp reports
  int column;  // 0-based
  std::string tag;
  std::string value;          // scalars
  std::vector<int> children;  // items; or keys and values alternating
};

struct LimitExceeded {
  YAML::Mark mark;
  std::string reason;
};

class TreeBuilder : public YAML::EventHandler {
 public:
  // The last document: nodes()[0] is its root.
  const std::vector<Node>& nodes() const { return nodes_; }
  const YAML::Mark& start() const { return start_; }
  std::optional<int> first_alias() const { return first_alias_; }
  const int* last_event_pos() const { return &last_mark_.pos; }
  const YAML::Mark& last_mark() const { return last_mark_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 yields endless empty documents at a stray top-level ','
    // (e.g. "{a: 1},") instead of failing.
    if (documents_++ > 0 && mark.pos == start_.pos) {
      throw LimitExceeded{mark, "invalid YAML: unexpected character"};
    }
    nodes_.clear();
    stack_.clear();
    first_alias_.reset();
    start_ = mark;
    last_mark_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    Add(Kind::kNull, mark, "", "");
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    int index = Add(Kind::kAlias, mark, "", "");
    if (!first_alias_) first_alias_ = index;
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    Add(Kind::kScalar, mark, tag, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    Open(Kind::kSequence, mark, tag);
  }
  void OnSequenceEnd() override { stack_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag,
                  YAML::anchor_t, YAML::EmitterStyle::value) override {
    Open(Kind::kMap, mark, tag);
  }
  void OnMapEnd() override { stack_.pop_back(); }

 private:
  int Add(Kind kind, const YAML::Mark& mark, const std::string& tag,
          const std::string& value) {
    last_mark_ = mark;
    if (nodes_.size() >= kMaxNodesPerDocument) {
      throw LimitExceeded{mark, absl::StrCat("more than ", kMaxNodesPerDocument,
                                             " YAML nodes in one document")};
    }
    const int index = static_cast<int>(nodes_.size());
    nodes_.push_back(Node{kind, mark.line, mark.column, tag, value, {}});
    if (!stack_.empty()) nodes_[stack_.back()].children.push_back(index);
    return index;
  }
  void Open(Kind kind, const YAML::Mark& mark, const std::string& tag) {
    if (stack_.size() >= kMaxDepth) {
      throw LimitExceeded{
          mark, absl::StrCat("YAML nested deeper than ", kMaxDepth, " levels")};
    }
    stack_.push_back(Add(kind, mark, tag, ""));
  }

  std::vector<Node> nodes_;
  std::vector<int> stack_;
  std::optional<int> first_alias_;
  YAML::Mark start_;
  YAML::Mark last_mark_;
  int documents_ = 0;
};

// ---- Scalars: YAML 1.1 implicit types, as the API server's YAML reader
// (go-yaml v2) resolves them, so both reject the same files. ----

enum class Type {
  kString,
  kNull,
  kBool,
  kInt,
  kFloat,
  kSeq,
  kMap,
  kAlias,
  kTag
};

constexpr char kStrTag[] = "tag:yaml.org,2002:str";

// Parses a YAML integer: [-+] then decimal, 0x hex, 0o or 0 octal, 0b
// binary; '_' separators allowed. False if not an integer; true with
// *overflow set if it does not fit in int64_t.
bool ParseYamlInt(absl::string_view text, int64_t* out, bool* overflow) {
  std::string s = absl::StrReplaceAll(text, {{"_", ""}});
  *overflow = false;
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  int base = 10;
  if (s.size() - i > 1 && s[i] == '0') {
    const char p = absl::ascii_tolower(s[i + 1]);
    base = p == 'x' ? 16 : p == 'b' ? 2 : 8;
    i += (p == 'x' || p == 'b' || p == 'o') ? 2 : 1;
  }
  if (i >= s.size()) return false;
  unsigned __int128 value = 0;
  for (; i < s.size(); ++i) {
    const char c = absl::ascii_tolower(s[i]);
    int digit = absl::ascii_isdigit(c)   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : 99;
    if (digit >= base) return false;
    value = value * base + digit;
    if (value > (static_cast<unsigned __int128>(1) << 63)) *overflow = true;
  }
  const unsigned __int128 limit =
      (static_cast<unsigned __int128>(1) << 63) - (negative ? 0 : 1);
  if (*overflow || value > limit) {
    *overflow = true;
    return true;
  }
  *out = negative ? static_cast<int64_t>(-static_cast<__int128>(value))
                  : static_cast<int64_t>(value);
  return true;
}

bool IsFloat(absl::string_view s) {
  static const std::set<absl::string_view> kSpecial = {
      ".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
      "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  if (kSpecial.count(s)) return true;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == s.size()) return false;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
  }
  return i == s.size();
}

const std::set<absl::string_view>& TrueWords() {
  static const auto* words = new std::set<absl::string_view>{
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  return *words;
}
const std::set<absl::string_view>& FalseWords() {
  static const auto* words = new std::set<absl::string_view>{
      "n",     "N",     "no",  "No",  "NO", "false",
      "False", "FALSE", "off", "Off", "OFF"};
  return *words;
}

Type TypeOf(const Node& n) {
  switch (n.kind) {
    case Kind::kNull:
      return Type::kNull;
    case Kind::kSequence:
      return Type::kSeq;
    case Kind::kMap:
      return Type::kMap;
    case Kind::kAlias:
      return Type::kAlias;
    case Kind::kScalar:
      break;
  }
  if (n.tag == "!" || n.tag == kStrTag) return Type::kString;
  if (n.tag != "?" && !absl::StartsWith(n.tag, "tag:yaml.org,2002:")) {
    return Type::kTag;  // an application tag such as !custom
  }
  const std::string& v = n.value;
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") {
    return Type::kNull;
  }
  if (TrueWords().count(v) || FalseWords().count(v)) return Type::kBool;
  int64_t ignored;
  bool overflow;
  if (ParseYamlInt(v, &ignored, &overflow)) return Type::kInt;
  if (IsFloat(v)) return Type::kFloat;
  return Type::kString;
}

std::string Describe(const Node& n) {
  static constexpr const char* kNames[] = {
      "a string", "null",       "a boolean", "an integer",
      "a number", "a sequence", "a mapping", "an alias"};
  const Type type = TypeOf(n);
  if (type == Type::kTag) return absl::StrCat("a value tagged ", Quote(n.tag));
  return kNames[static_cast<int>(type)];
}

std::string Join(absl::string_view path, absl::string_view key) {
  const bool plain =
      !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_' || c == '-';
      });
  if (!plain) return absl::StrCat(path, "[", Quote(key), "]");
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Index(absl::string_view path, size_t i) {
  return absl::StrCat(path, "[", i, "]");
}

// Parses a signal: "SIGTERM", "TERM" (any case), "15" or 1-64.
std::optional<int> ParseSignal(absl::string_view text) {
  static const auto* kSignals = new std::map<std::string, int>{
      {"HUP", 1},   {"INT", 2},     {"QUIT", 3},  {"ILL", 4},    {"TRAP", 5},
      {"ABRT", 6},  {"IOT", 6},     {"BUS", 7},   {"FPE", 8},    {"KILL", 9},
      {"USR1", 10}, {"SEGV", 11},   {"USR2", 12}, {"PIPE", 13},  {"ALRM", 14},
      {"TERM", 15}, {"STKFLT", 16}, {"CHLD", 17}, {"CONT", 18},  {"STOP", 19},
      {"TSTP", 20}, {"TTIN", 21},   {"TTOU", 22}, {"URG", 23},   {"XCPU", 24},
      {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27}, {"WINCH", 28}, {"IO", 29},
      {"POLL", 29}, {"PWR", 30},    {"SYS", 31}};
  if (!text.empty() && text.size() <= 2 &&
      std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    int n = 0;
    for (char c : text) n = n * 10 + (c - '0');
    if (n >= 1 && n <= 64) return n;
    return std::nullopt;
  }
  std::string name = absl::AsciiStrToUpper(text);
  if (absl::StartsWith(name, "SIG")) name.erase(0, 3);
  auto it = kSignals->find(name);
  if (it == kSignals->end()) return std::nullopt;
  return it->second;
}

// Parses a decimal id 0..kMaxId.
std::optional<uint32_t> ParseId(absl::string_view text) {
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) {
    return std::nullopt;
  }
  int64_t n = 0;
  for (char c : text) n = n * 10 + (c - '0');
  if (n > kMaxId) return std::nullopt;
  return static_cast<uint32_t>(n);
}

// Kubernetes label and annotation keys: [DNS subdomain "/"] name, and label
// values: empty or a name. A name is 1-63 of [A-Za-z0-9._-], starting and
// ending alphanumeric. The API server rejects anything else.
bool IsLabelName(absl::string_view s) {
  return !s.empty() && s.size() <= 63 && absl::ascii_isalnum(s.front()) &&
         absl::ascii_isalnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}
bool IsQualifiedName(absl::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  if (parts.size() > 2) return false;
  if (parts.size() == 2 && !runtime::ValidateDnsSubdomain("", parts[0]).ok()) {
    return false;
  }
  return IsLabelName(parts.back());
}

// ---- Decoding one document into a NodeContainer. ----

// A mapping's fields after key checks; null values are left out.
struct Fields {
  const Node* map = nullptr;  // nullptr when absent or not a mapping
  std::string path;
  std::map<std::string, const Node*, std::less<>> values;

  const Node* Get(absl::string_view key) const {
    auto it = values.find(key);
    return it == values.end() ? nullptr : it->second;
  }
  std::string Path(absl::string_view key) const { return Join(path, key); }
};

enum class MapKind { kPlain, kLabels, kAnnotations };

class Decoder {
 public:
  Decoder(const TreeBuilder& doc, absl::string_view file)
      : nodes_(doc.nodes()), doc_(doc), file_(file) {}

  // Returns the object if the document has no errors; see errors().
  std::optional<NodeContainer> Decode();
  std::vector<ParseError>& errors() { return errors_; }

 private:
  const Node& At(int index) const { return nodes_[index]; }
  void Error(const Node& at, std::string field, std::string reason) {
    errors_.push_back(ParseError{std::string(file_), at.line + 1, at.column + 1,
                                 std::move(field), std::move(reason)});
  }
  std::string FindPath(int target, int node, const std::string& path) const;

  // Checks a mapping's keys (strings, no duplicates, all in `accepted`
  // unless it is empty).
  Fields ReadFields(const Node& n, std::string path,
                    std::initializer_list<absl::string_view> accepted);
  Fields Sub(const Fields& f, absl::string_view key,
             std::initializer_list<absl::string_view> accepted) {
    const Node* n = f.Get(key);
    return n ? ReadFields(*n, f.Path(key), accepted) : Fields{};
  }
  // Reports `key` missing from an existing mapping; true when present.
  bool Require(const Fields& f, absl::string_view key) {
    if (f.Get(key)) return true;
    if (f.map) Error(*f.map, f.Path(key), "required field is missing");
    return false;
  }
  bool ReadString(const Node& n, const std::string& path, std::string* out);
  bool ReadIntOrString(const Node& n, const std::string& path,
                       std::string* out);
  // Field readers: return the node read, or nullptr when the field is
  // absent or was reported as invalid.
  const Node* String(const Fields& f, absl::string_view key, std::string* out) {
    const Node* n = f.Get(key);
    return n && ReadString(*n, f.Path(key), out) ? n : nullptr;
  }
  const Node* IntOrString(const Fields& f, absl::string_view key,
                          std::string* out) {
    const Node* n = f.Get(key);
    return n && ReadIntOrString(*n, f.Path(key), out) ? n : nullptr;
  }
  void Int(const Fields& f, absl::string_view key, int64_t min, int64_t max,
           int64_t* out);
  void Bool(const Fields& f, absl::string_view key, bool* out);
  void StringList(const Fields& f, absl::string_view key,
                  std::vector<std::string>* out);
  void StringMap(const Fields& f, absl::string_view key, MapKind kind,
                 std::map<std::string, std::string>* out);
  void Quantity(const Fields& f, absl::string_view key, bool cpu, int64_t min,
                absl::string_view min_text, int64_t* out);
  void Path(const Fields& f, absl::string_view key, std::string* out);
  // Reports a validator's error on field `key`.
  void Check(const Fields& f, absl::string_view key,
             const absl::Status& status) {
    if (!status.ok()) {
      Error(*f.Get(key), f.Path(key), std::string(status.message()));
    }
  }

  void DecodeMetadata(const Fields& m, ObjectMeta* meta);
  void DecodeSpec(const Fields& s, NodeContainerSpec* spec);
  void DecodeEnv(const Fields& s, std::vector<EnvVar>* env);
  void DecodeMounts(const Fields& s, std::vector<Mount>* mounts);

  const std::vector<Node>& nodes_;
  const TreeBuilder& doc_;
  absl::string_view file_;
  std::vector<ParseError> errors_;
};

std::string Decoder::FindPath(int target, int node,
                              const std::string& path) const {
  if (node == target) return path;
  const Node& n = At(node);
  for (size_t i = 0; i < n.children.size(); ++i) {
    const Node& key = At(n.children[i - i % 2]);
    std::string found =
        FindPath(target, n.children[i],
                 n.kind == Kind::kSequence
                     ? Index(path, i)
                     : Join(path, key.kind == Kind::kScalar ? key.value : "?"));
    if (!found.empty()) return found;
  }
  return "";
}

Fields Decoder::ReadFields(const Node& n, std::string path,
                           std::initializer_list<absl::string_view> accepted) {
  Fields fields;
  fields.path = std::move(path);
  if (n.kind != Kind::kMap) {
    Error(n, fields.path,
          absl::StrCat("expected a mapping, got ", Describe(n)));
    return fields;
  }
  fields.map = &n;
  std::map<std::string, const Node*, std::less<>> keys;
  for (size_t i = 0; i + 1 < n.children.size(); i += 2) {
    const Node& key = At(n.children[i]);
    const Node& value = At(n.children[i + 1]);
    if (key.kind != Kind::kScalar || TypeOf(key) == Type::kNull) {
      Error(key, fields.path,
            absl::StrCat("mapping keys must be strings, got ", Describe(key)));
      continue;
    }
    const std::string field = Join(fields.path, key.value);
    auto [first, inserted] = keys.emplace(key.value, &key);
    if (!inserted) {
      Error(key, field,
            absl::StrCat("duplicate key ", Quote(key.value), " (first at ",
                         first->second->line + 1, ":",
                         first->second->column + 1, ")"));
    } else if (key.value.find('\0') != std::string::npos) {
      Error(key, field, "key contains a NUL character");
    } else if (accepted.size() > 0 &&
               std::find(accepted.begin(), accepted.end(), key.value) ==
                   accepted.end()) {
      Error(key, field,
            absl::StrCat("unknown field ", Quote(key.value),
                         " (accepted: ", absl::StrJoin(accepted, ", "), ")"));
    } else if (TypeOf(value) != Type::kNull) {
      fields.values[key.value] = &value;
    }
  }
  return fields;
}

bool Decoder::ReadString(const Node& n, const std::string& path,
                         std::string* out) {
  const Type type = TypeOf(n);
  if (type != Type::kString) {
    const bool quotable =
        type == Type::kBool || type == Type::kInt || type == Type::kFloat;
    Error(n, path,
          absl::StrCat(
              "expected a string, got ", Describe(n),
              quotable ? absl::StrCat(" (quote it: \"", n.value, "\")") : ""));
    return false;
  }
  if (n.value.find('\0') != std::string::npos) {
    Error(n, path, "must not contain NUL characters");
    return false;
  }
  *out = n.value;
  return true;
}

bool Decoder::ReadIntOrString(const Node& n, const std::string& path,
                              std::string* out) {
  const Type type = TypeOf(n);
  if (type == Type::kString) return ReadString(n, path, out);
  int64_t value;
  bool overflow = false;
  if (type == Type::kInt && ParseYamlInt(n.value, &value, &overflow) &&
      !overflow) {
    *out = absl::StrCat(value);
    return true;
  }
  // The CRD's int-or-string schema takes no other numbers, so neither do we:
  // a manifest that works here must work with kubectl apply.
  Error(n, path,
        overflow
            ? absl::StrCat("integer out of range: ", n.value)
            : absl::StrCat("expected an integer or a string, got ", Describe(n),
                           type == Type::kFloat
                               ? absl::StrCat(" (quote it: \"", n.value, "\")")
                               : ""));
  return false;
}

void Decoder::Int(const Fields& f, absl::string_view key, int64_t min,
                  int64_t max, int64_t* out) {
  const Node* n = f.Get(key);
  if (!n) return;
  int64_t value = 0;
  bool overflow = false;
  if (TypeOf(*n) != Type::kInt || !ParseYamlInt(n->value, &value, &overflow)) {
    Error(*n, f.Path(key),
          absl::StrCat("expected an integer, got ", Describe(*n)));
  } else if (overflow || value < min || value > max) {
    Error(*n, f.Path(key),
          min == 0 && value < 0 && !overflow
              ? absl::StrCat("must not be negative, got ", n->value)
              : absl::StrCat("must be between ", min, " and ", max, ", got ",
                             n->value));
  } else {
    *out = value;
  }
}

void Decoder::Bool(const Fields& f, absl::string_view key, bool* out) {
  const Node* n = f.Get(key);
  if (!n) return;
  if (TypeOf(*n) != Type::kBool) {
    Error(*n, f.Path(key),
          absl::StrCat("expected a boolean, got ", Describe(*n)));
  } else {
    *out = TrueWords().count(n->value) > 0;
  }
}

void Decoder::StringList(const Fields& f, absl::string_view key,
                         std::vector<std::string>* out) {
  const Node* n = f.Get(key);
  if (!n) return;
  if (n->kind != Kind::kSequence) {
    Error(*n, f.Path(key),
          absl::StrCat("expected a sequence of strings, got ", Describe(*n)));
    return;
  }
  for (size_t i = 0; i < n->children.size(); ++i) {
    std::string value;
    if (ReadString(At(n->children[i]), Index(f.Path(key), i), &value)) {
      out->push_back(std::move(value));
    }
  }
}

void Decoder::StringMap(const Fields& f, absl::string_view key, MapKind kind,
                        std::map<std::string, std::string>* out) {
  Fields m = Sub(f, key, {});
  for (const auto& [name, value] : m.values) {
    const std::string path = m.Path(name);
    std::string text;
    if (!ReadString(*value, path, &text)) continue;
    if (kind != MapKind::kPlain && !IsQualifiedName(name)) {
      Error(*value, path,
            absl::StrCat("invalid key ", Quote(name),
                         " (an optional DNS prefix and '/', then 1-63 "
                         "letters, digits, '-', '_' or '.', starting and "
                         "ending with a letter or digit)"));
    } else if (kind == MapKind::kLabels && !text.empty() &&
               !IsLabelName(text)) {
      Error(*value, path,
            absl::StrCat("invalid label value ", Quote(text),
                         " (at most 63 letters, digits, '-', '_' or '.', "
                         "starting and ending with a letter or digit)"));
    }
    (*out)[name] = std::move(text);
  }
}

void Decoder::Quantity(const Fields& f, absl::string_view key, bool cpu,
                       int64_t min, absl::string_view min_text, int64_t* out) {
  std::string text;
  const Node* n = IntOrString(f, key, &text);
  if (!n) return;
  absl::StatusOr<int64_t> value = cpu ? ParseCpuMillis(text) : ParseBytes(text);
  if (!value.ok()) {
    Error(*n, f.Path(key), std::string(value.status().message()));
  } else if (*value < min) {
    Error(*n, f.Path(key),
          absl::StrCat("must be at least ", min_text, ", got ", Quote(text)));
  } else {
    *out = *value;
  }
}

// An absolute path without ".." components, cleaned ("//a/./b/" -> "/a/b").
void Decoder::Path(const Fields& f, absl::string_view key, std::string* out) {
  std::string text;
  const Node* n = String(f, key, &text);
  if (!n) return;
  if (!absl::StartsWith(text, "/")) {
    Error(*n, f.Path(key),
          absl::StrCat("must be an absolute path, got ", Quote(text)));
    return;
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(text, '/', absl::SkipEmpty())) {
    if (part == "..") {
      Error(*n, f.Path(key),
            absl::StrCat("must not contain \"..\", got ", Quote(text)));
      return;
    }
    if (part != ".") parts.push_back(part);
  }
  *out = absl::StrCat("/", absl::StrJoin(parts, "/"));
}

std::optional<NodeContainer> Decoder::Decode() {
  if (std::optional<int> alias = doc_.first_alias()) {
    Error(At(*alias), FindPath(*alias, 0, ""),
          "YAML aliases are not supported (write the value out)");
    return std::nullopt;
  }
  Fields top = ReadFields(At(0), "",
                          {"apiVersion", "kind", "metadata", "spec", "status"});
  if (!top.map) return std::nullopt;
  std::string api_version, kind;
  if (Require(top, "apiVersion") && String(top, "apiVersion", &api_version) &&
      api_version != kApiVersion) {
    Error(*top.Get("apiVersion"), "apiVersion",
          absl::StrCat("unsupported apiVersion ", Quote(api_version),
                       " (expected ", kApiVersion, ")"));
  }
  if (Require(top, "kind") && String(top, "kind", &kind) && kind != kKind) {
    Error(*top.Get("kind"), "kind",
          absl::StrCat("unsupported kind ", Quote(kind), " (expected ", kKind,
                       ")"));
  }
  // Another kind of object: its fields would only add noise.
  if (api_version != kApiVersion || kind != kKind) return std::nullopt;

  NodeContainer object;
  if (Require(top, "metadata")) {
    DecodeMetadata(
        Sub(top, "metadata",
            {"name", "namespace", "labels", "annotations", "generation", "uid",
             "resourceVersion", "creationTimestamp", "deletionTimestamp",
             "deletionGracePeriodSeconds", "finalizers", "generateName",
             "managedFields", "ownerReferences", "selfLink"}),
        &object.metadata);
  }
  if (Require(top, "spec")) {
    DecodeSpec(Sub(top, "spec",
                   {"image", "command", "args", "env", "workingDir", "user",
                    "resources", "mounts", "restartPolicy", "stopSignal",
                    "terminationGracePeriodSeconds", "nodeName", "nodeSelector",
                    "hostNetwork"}),
               &object.spec);
  }
  if (!errors_.empty()) return std::nullopt;
  object.source = absl::StrCat(file_, ":", doc_.start().line + 1);
  return object;
}

void Decoder::DecodeMetadata(const Fields& m, ObjectMeta* meta) {
  if (Require(m, "name") && String(m, "name", &meta->name)) {
    Check(m, "name", runtime::ValidateDnsSubdomain("name", meta->name));
  }
  if (String(m, "namespace", &meta->namespace_)) {
    Check(m, "namespace",
          runtime::ValidateDnsLabel("namespace", meta->namespace_));
  }
  StringMap(m, "labels", MapKind::kLabels, &meta->labels);
  StringMap(m, "annotations", MapKind::kAnnotations, &meta->annotations);
  Int(m, "generation", 0, INT64_MAX, &meta->generation);
  String(m, "uid", &meta->uid);
  String(m, "resourceVersion", &meta->resource_version);
}

void Decoder::DecodeSpec(const Fields& s, NodeContainerSpec* spec) {
  if (!s.map) return;
  if (Require(s, "image") && String(s, "image", &spec->image)) {
    const Node& n = *s.Get("image");
    if (spec->image.empty()) {
      Error(n, s.Path("image"), "must not be empty");
    } else if (std::any_of(spec->image.begin(), spec->image.end(), [](char c) {
                 return absl::ascii_isspace(c) || absl::ascii_iscntrl(c);
               })) {
      Error(n, s.Path("image"),
            absl::StrCat("must not contain whitespace, got ",
                         Quote(spec->image)));
    }
  }
  StringList(s, "command", &spec->command);
  StringList(s, "args", &spec->args);
  DecodeEnv(s, &spec->env);
  if (const Node* n = String(s, "workingDir", &spec->working_dir);
      n && !absl::StartsWith(spec->working_dir, "/")) {
    Error(*n, s.Path("workingDir"),
          absl::StrCat("must be an absolute path, got ",
                       Quote(spec->working_dir)));
  }
  std::string text;
  if (const Node* n = IntOrString(s, "user", &text)) {
    std::vector<absl::string_view> ids = absl::StrSplit(text, ':');
    std::optional<uint32_t> uid = ParseId(ids[0]);
    std::optional<uint32_t> gid =
        ids.size() == 2 ? ParseId(ids[1]) : std::nullopt;
    if (uid && (ids.size() == 1 || (ids.size() == 2 && gid))) {
      spec->run_as_user = uid;
      spec->run_as_group = gid;
    } else {
      Error(*n, s.Path("user"),
            absl::StrCat("invalid user ", Quote(text),
                         " (expected a numeric \"uid\" or \"uid:gid\", each "
                         "0-",
                         kMaxId, "; user names are not supported)"));
    }
  }
  Fields limits =
      Sub(Sub(s, "resources", {"limits"}), "limits", {"cpu", "memory", "pids"});
  Quantity(limits, "cpu", /*cpu=*/true, 1, "1m", &spec->limits.cpu_millis);
  Quantity(limits, "memory", /*cpu=*/false, kMinMemoryBytes, "4096 bytes",
           &spec->limits.memory_bytes);
  Quantity(limits, "pids", /*cpu=*/false, 1, "1", &spec->limits.pids);
  DecodeMounts(s, &spec->mounts);
  if (const Node* n = String(s, "restartPolicy", &text)) {
    static const auto* kPolicies = new std::map<std::string, RestartPolicy>{
        {"Always", RestartPolicy::kAlways},
        {"OnFailure", RestartPolicy::kOnFailure},
        {"Never", RestartPolicy::kNever}};
    auto it = kPolicies->find(text);
    if (it != kPolicies->end()) {
      spec->restart_policy = it->second;
    } else {
      Error(*n, s.Path("restartPolicy"),
            absl::StrCat("unknown restart policy ", Quote(text),
                         " (accepted: Always, OnFailure, Never)"));
    }
  }
  if (const Node* n = IntOrString(s, "stopSignal", &text)) {
    if (std::optional<int> signal = ParseSignal(text)) {
      spec->stop_signal = *signal;
    } else {
      Error(*n, s.Path("stopSignal"),
            absl::StrCat("unknown signal ", Quote(text),
                         " (use a name such as SIGTERM or TERM, or a number "
                         "1-64)"));
    }
  }
  Int(s, "terminationGracePeriodSeconds", 0, kMaxGracePeriodSeconds,
      &spec->termination_grace_period_seconds);
  if (String(s, "nodeName", &spec->node_name) && !spec->node_name.empty()) {
    Check(s, "nodeName",
          runtime::ValidateDnsSubdomain("node name", spec->node_name));
  }
  StringMap(s, "nodeSelector", MapKind::kPlain, &spec->node_selector);
  Bool(s, "hostNetwork", &spec->host_network);
}

void Decoder::DecodeEnv(const Fields& s, std::vector<EnvVar>* env) {
  const Node* list = s.Get("env");
  if (!list) return;
  if (list->kind != Kind::kSequence) {
    Error(*list, s.Path("env"),
          absl::StrCat("expected a sequence, got ", Describe(*list)));
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields e = ReadFields(At(list->children[i]), Index(s.Path("env"), i),
                          {"name", "value"});
    EnvVar var;
    if (Require(e, "name") && String(e, "name", &var.name)) {
      const bool valid =
          !var.name.empty() && !absl::ascii_isdigit(var.name[0]) &&
          std::all_of(var.name.begin(), var.name.end(), [](char c) {
            return absl::ascii_isalnum(c) || c == '_';
          });
      if (!valid) {
        Error(
            *e.Get("name"), e.Path("name"),
            absl::StrCat("invalid environment variable name ", Quote(var.name),
                         " (letters, digits and '_', not starting with a "
                         "digit)"));
      } else if (!names.insert(var.name).second) {
        Error(*e.Get("name"), e.Path("name"),
              absl::StrCat("duplicate environment variable ", Quote(var.name)));
      }
    }
    String(e, "value", &var.value);
    env->push_back(std::move(var));
  }
}

void Decoder::DecodeMounts(const Fields& s, std::vector<Mount>* mounts) {
  const Node* list = s.Get("mounts");
  if (!list) return;
  if (list->kind != Kind::kSequence) {
    Error(*list, s.Path("mounts"),
          absl::StrCat("expected a sequence, got ", Describe(*list)));
    return;
  }
  std::set<std::string> targets;
  for (size_t i = 0; i < list->children.size(); ++i) {
    Fields m = ReadFields(At(list->children[i]), Index(s.Path("mounts"), i),
                          {"mountPath", "hostPath", "tmpfs", "readOnly"});
    if (!m.map) continue;
    Mount mount;
    if (Require(m, "mountPath")) {
      Path(m, "mountPath", &mount.mount_path);
      const Node& n = *m.Get("mountPath");
      if (mount.mount_path == "/") {
        Error(n, m.Path("mountPath"), "must not be the container's root \"/\"");
      } else if (!mount.mount_path.empty() &&
                 !targets.insert(mount.mount_path).second) {
        Error(n, m.Path("mountPath"),
              absl::StrCat("duplicate mountPath ", Quote(mount.mount_path)));
      }
    }
    if ((m.Get("hostPath") == nullptr) == (m.Get("tmpfs") == nullptr)) {
      Error(*m.map, m.path, "exactly one of hostPath or tmpfs must be set");
    }
    if (m.Get("hostPath")) {
      Fields host = Sub(m, "hostPath", {"path"});
      if (Require(host, "path")) Path(host, "path", &mount.host_path.emplace());
    }
    if (m.Get("tmpfs")) {
      Quantity(Sub(m, "tmpfs", {"sizeLimit"}), "sizeLimit", /*cpu=*/false, 0,
               "0", &mount.tmpfs_size_bytes.emplace(0));
    }
    Bool(m, "readOnly", &mount.read_only);
    mounts->push_back(std::move(mount));
  }
}

}  // namespace

std::string ParseError::ToString() const {
  std::string location = file;
  if (line > 0) {
    absl::StrAppend(&location, location.empty() ? "" : ":", line, ":", column);
  }
  std::string out;
  if (!location.empty()) absl::StrAppend(&out, location, ": ");
  if (!field.empty()) absl::StrAppend(&out, field, ": ");
  out += reason;
  return out;
}

ParseResult ParseManifests(absl::string_view content, absl::string_view file) {
  ParseResult result;
  size_t suppressed = 0;
  auto file_error = [&](int line, int column, std::string reason) {
    result.objects.clear();
    result.errors = {
        ParseError{std::string(file), line, column, "", std::move(reason)}};
    return std::move(result);
  };
  if (std::optional<FileError> e = PreScan(content)) {
    return file_error(e->line, e->column, std::move(e->reason));
  }
  TreeBuilder builder;
  BoundedStreamBuf buffer(content, builder.last_event_pos());
  std::istream stream(&buffer);
  std::optional<FileError> error;
  try {
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(builder)) {
      const std::vector<Node>& nodes = builder.nodes();
      if (nodes.empty() ||
          (nodes.size() == 1 && TypeOf(nodes[0]) == Type::kNull)) {
        continue;  // an empty document
      }
      Decoder decoder(builder, file);
      std::optional<NodeContainer> object = decoder.Decode();
      if (object) result.objects.push_back(std::move(*object));
      std::stable_sort(decoder.errors().begin(), decoder.errors().end(),
                       [](const ParseError& a, const ParseError& b) {
                         return std::pair(a.line, a.column) <
                                std::pair(b.line, b.column);
                       });
      for (ParseError& e : decoder.errors()) {
        if (result.errors.size() < kMaxErrors) {
          result.errors.push_back(std::move(e));
        } else {
          ++suppressed;
        }
      }
    }
  } catch (const LimitExceeded& e) {
    error = FileError{e.mark.line + 1, e.mark.column + 1, e.reason};
  } catch (const YAML::Exception& e) {
    error = e.mark.is_null()
                ? FileError{0, 0, absl::StrCat("invalid YAML: ", e.msg)}
                : FileError{e.mark.line + 1, e.mark.column + 1,
                            absl::StrCat("invalid YAML: ", e.msg)};
  } catch (const std::exception& e) {
    error = FileError{0, 0, absl::StrCat("invalid YAML: ", e.what())};
  }
  if (buffer.exhausted()) {
    const YAML::Mark& mark = builder.last_mark();
    return file_error(mark.line + 1, mark.column + 1,
                      absl::StrCat("the YAML node here or just after it (a "
                                   "flow collection [...] or {...}, a scalar "
                                   "or a comment) is larger than ",
                                   kMaxLookaheadBytes >> 10, " KiB"));
  }
  if (error) return file_error(error->line, error->column, error->reason);
  if (suppressed > 0) {
    result.errors.push_back(
        ParseError{std::string(file), 0, 0, "",
                   absl::StrCat(suppressed, " more errors not shown")});
  }
  return result;
}

absl::StatusOr<NodeContainer> ParseNodeContainer(absl::string_view content,
                                                 absl::string_view source) {
  auto fail = [&](absl::string_view cause) {
    return absl::InvalidArgumentError(
        absl::StrCat("parse NodeContainer ", source, ": ", cause));
  };
  ParseResult result = ParseManifests(content, "");
  if (!result.errors.empty()) {
    constexpr size_t kShown = 10;
    std::vector<std::string> shown;
    for (size_t i = 0; i < result.errors.size() && i < kShown; ++i) {
      shown.push_back(result.errors[i].ToString());
    }
    if (result.errors.size() > kShown) {
      shown.push_back(
          absl::StrCat(result.errors.size() - kShown, " more errors"));
    }
    return fail(absl::StrJoin(shown, "; "));
  }
  if (result.objects.empty()) return fail("no object in input");
  if (result.objects.size() > 1) {
    return fail(
        absl::StrCat("expected one object, got ", result.objects.size()));
  }
  NodeContainer object = std::move(result.objects.front());
  object.source = std::string(source);
  return object;
}

}  // namespace berth::controller
