#include "controller/spec/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <istream>
#include <map>
#include <set>
#include <streambuf>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

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

constexpr char kStrTag[] = "tag:yaml.org,2002:str";

// Rejects what yaml-cpp should never see: oversized input, bytes YAML does
// not allow (NUL and other C0 controls, invalid UTF-8, which also excludes
// UTF-16/32 input) and more flow indicators than we let yaml-cpp queue.
std::optional<YamlFileError> PreScan(absl::string_view content) {
  if (content.size() > kMaxYamlBytes) {
    return YamlFileError{0, 0, absl::StrCat("file larger than 1 MiB (", content.size(), " bytes)")};
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
        return YamlFileError{line, column,
                             absl::StrFormat("control character 0x%02x is not "
                                             "allowed in YAML",
                                             static_cast<int>(c))};
      }
      if ((c == '[' || c == '{' || c == ',') && ++flow_characters > kMaxFlowCharacters) {
        return YamlFileError{
            line, column,
            absl::StrCat("more than ", kMaxFlowCharacters, " '[', '{' and ',' characters")};
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
      valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 > 0x9f) && !(c == 0xf0 && c1 < 0x90) &&
              !(c == 0xf4 && c1 > 0x8f);
    }
    if (!valid) return YamlFileError{line, column, "invalid UTF-8"};
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

// Thrown by TreeBuilder to stop yaml-cpp at a cap.
struct LimitExceeded {
  YAML::Mark mark;
  std::string reason;
};

// Builds the last document read as a YamlDocument from yaml-cpp events.
class TreeBuilder : public YAML::EventHandler {
 public:
  YamlDocument& document() { return document_; }
  std::optional<int> first_alias() const { return first_alias_; }
  const int* last_event_pos() const { return &last_mark_.pos; }
  const YAML::Mark& last_mark() const { return last_mark_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 yields endless empty documents at a stray top-level ','
    // (e.g. "{a: 1},") instead of failing.
    if (documents_++ > 0 && mark.pos == start_.pos) {
      throw LimitExceeded{mark, "invalid YAML: unexpected character"};
    }
    document_ = YamlDocument{{}, mark.line + 1, std::nullopt};
    stack_.clear();
    first_alias_.reset();
    start_ = mark;
    last_mark_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    Add(YamlKind::kNull, mark, "", "");
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    int index = Add(YamlKind::kAlias, mark, "", "");
    if (!first_alias_) first_alias_ = index;
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    Add(YamlKind::kScalar, mark, tag, value);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Open(YamlKind::kSequence, mark, tag);
  }
  void OnSequenceEnd() override { stack_.pop_back(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Open(YamlKind::kMap, mark, tag);
  }
  void OnMapEnd() override { stack_.pop_back(); }

 private:
  int Add(YamlKind kind, const YAML::Mark& mark, const std::string& tag, const std::string& value) {
    last_mark_ = mark;
    std::vector<YamlNode>& nodes = document_.nodes;
    if (nodes.size() >= kMaxNodesPerDocument) {
      throw LimitExceeded{
          mark, absl::StrCat("more than ", kMaxNodesPerDocument, " YAML nodes in one document")};
    }
    const int index = static_cast<int>(nodes.size());
    nodes.push_back(YamlNode{kind, mark.line + 1, mark.column + 1, tag, value, {}});
    if (!stack_.empty()) nodes[stack_.back()].children.push_back(index);
    return index;
  }
  void Open(YamlKind kind, const YAML::Mark& mark, const std::string& tag) {
    if (stack_.size() >= kMaxDepth) {
      throw LimitExceeded{mark, absl::StrCat("YAML nested deeper than ", kMaxDepth, " levels")};
    }
    stack_.push_back(Add(kind, mark, tag, ""));
  }

  YamlDocument document_;
  std::vector<int> stack_;
  std::optional<int> first_alias_;
  YAML::Mark start_;
  YAML::Mark last_mark_;
  int documents_ = 0;
};

// The field path of node `target` if it is `node` or below it ("" if not).
std::string FindPath(const std::vector<YamlNode>& nodes, int target, int node,
                     const std::string& path) {
  if (node == target) return path;
  const YamlNode& n = nodes[node];
  for (size_t i = 0; i < n.children.size(); ++i) {
    const YamlNode& key = nodes[n.children[i - i % 2]];
    std::string found =
        FindPath(nodes, target, n.children[i],
                 n.kind == YamlKind::kSequence
                     ? ItemPath(path, i)
                     : FieldPath(path, key.kind == YamlKind::kScalar ? key.value : "?"));
    if (!found.empty()) return found;
  }
  return "";
}

bool IsFloat(absl::string_view s) {
  static const std::set<absl::string_view> kSpecial = {".inf",  ".Inf",  ".INF",  "+.inf",
                                                       "+.Inf", "+.INF", "-.inf", "-.Inf",
                                                       "-.INF", ".nan",  ".NaN",  ".NAN"};
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
      "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  return *words;
}

}  // namespace

std::optional<YamlFileError> ReadYamlDocuments(
    absl::string_view content, const std::function<void(const YamlDocument&)>& on_document) {
  if (std::optional<YamlFileError> e = PreScan(content)) return e;
  TreeBuilder builder;
  BoundedStreamBuf buffer(content, builder.last_event_pos());
  std::istream stream(&buffer);
  std::optional<YamlFileError> error;
  try {
    YAML::Parser parser(stream);
    while (parser.HandleNextDocument(builder)) {
      YamlDocument& document = builder.document();
      const std::vector<YamlNode>& nodes = document.nodes;
      if (nodes.empty() || (nodes.size() == 1 && TypeOf(nodes[0]) == YamlType::kNull)) {
        continue;  // an empty document
      }
      if (std::optional<int> alias = builder.first_alias()) {
        document.refused =
            YamlNodeError{nodes[*alias].line, nodes[*alias].column, FindPath(nodes, *alias, 0, ""),
                          "YAML aliases are not supported (write the value "
                          "out)"};
      }
      on_document(document);
    }
  } catch (const LimitExceeded& e) {
    error = YamlFileError{e.mark.line + 1, e.mark.column + 1, e.reason};
  } catch (const YAML::Exception& e) {
    // Some messages end in a character of the input ("unknown escape
    // character: ").
    const std::string reason =
        absl::StrCat("invalid YAML: ", EscapeForError(e.msg, 2 * kMaxShownBytes));
    error = e.mark.is_null() ? YamlFileError{0, 0, reason}
                             : YamlFileError{e.mark.line + 1, e.mark.column + 1, reason};
  } catch (const std::exception& e) {
    error = YamlFileError{0, 0, absl::StrCat("invalid YAML: ", e.what())};
  }
  if (buffer.exhausted()) {
    const YAML::Mark& mark = builder.last_mark();
    return YamlFileError{mark.line + 1, mark.column + 1,
                         absl::StrCat("the YAML node here or just after it (a "
                                      "flow collection [...] or {...}, a "
                                      "scalar or a comment) is larger than ",
                                      kMaxLookaheadBytes >> 10, " KiB")};
  }
  return error;
}

std::vector<YamlEntry> MappingEntries(const YamlDocument& doc, const YamlNode& map,
                                      absl::string_view path) {
  std::vector<YamlEntry> entries;
  std::map<std::string, const YamlNode*, std::less<>> seen;
  for (size_t i = 0; i + 1 < map.children.size(); i += 2) {
    const YamlNode& key = doc.nodes[map.children[i]];
    YamlEntry& entry =
        entries.emplace_back(YamlEntry{&key, &doc.nodes[map.children[i + 1]], std::nullopt});
    if (key.kind != YamlKind::kScalar || TypeOf(key) == YamlType::kNull) {
      entry.error =
          YamlNodeError{key.line, key.column, std::string(path),
                        absl::StrCat("mapping keys must be strings, got ", Describe(key))};
      continue;
    }
    auto [first, inserted] = seen.emplace(key.value, &key);
    if (!inserted) {
      entry.error = YamlNodeError{
          key.line, key.column, FieldPath(path, key.value),
          absl::StrCat("duplicate key ", QuoteForError(key.value, kMaxShownKeyBytes), " (first at ",
                       first->second->line, ":", first->second->column, ")")};
    } else if (key.value.find('\0') != std::string::npos) {
      entry.error = YamlNodeError{key.line, key.column, FieldPath(path, key.value),
                                  "key contains a NUL character"};
    }
  }
  return entries;
}

YamlType TypeOf(const YamlNode& n) {
  switch (n.kind) {
    case YamlKind::kNull: return YamlType::kNull;
    case YamlKind::kSequence: return YamlType::kSeq;
    case YamlKind::kMap: return YamlType::kMap;
    case YamlKind::kAlias: return YamlType::kAlias;
    case YamlKind::kScalar: break;
  }
  if (n.tag == "!" || n.tag == kStrTag) return YamlType::kString;
  if (n.tag != "?" && !absl::StartsWith(n.tag, "tag:yaml.org,2002:")) {
    return YamlType::kTag;  // an application tag such as !custom
  }
  const std::string& v = n.value;
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") {
    return YamlType::kNull;
  }
  if (TrueWords().count(v) || FalseWords().count(v)) return YamlType::kBool;
  int64_t ignored;
  bool overflow;
  if (ParseYamlInt(v, &ignored, &overflow)) return YamlType::kInt;
  if (IsFloat(v)) return YamlType::kFloat;
  return YamlType::kString;
}

std::string Describe(const YamlNode& n) {
  static constexpr const char* kNames[] = {"a string", "null",       "a boolean", "an integer",
                                           "a number", "a sequence", "a mapping", "an alias"};
  const YamlType type = TypeOf(n);
  if (type == YamlType::kTag) {
    return absl::StrCat("a value tagged ", QuoteForError(n.tag));
  }
  return kNames[static_cast<int>(type)];
}

bool YamlBoolValue(const YamlNode& n) { return TrueWords().count(n.value) > 0; }

bool ParseYamlInt(absl::string_view text, int64_t* out, bool* overflow) {
  // Separators are rare: copy only to drop them.
  const bool separated = text.find('_') != absl::string_view::npos;
  const std::string without_separators =
      separated ? absl::StrReplaceAll(text, {{"_", ""}}) : std::string();
  const absl::string_view s = separated ? absl::string_view(without_separators) : text;
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
    int digit = absl::ascii_isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 99;
    if (digit >= base) return false;
    value = value * base + digit;
    if (value > (static_cast<unsigned __int128>(1) << 63)) *overflow = true;
  }
  const unsigned __int128 limit = (static_cast<unsigned __int128>(1) << 63) - (negative ? 0 : 1);
  if (*overflow || value > limit) {
    *overflow = true;
    return true;
  }
  *out =
      negative ? static_cast<int64_t>(-static_cast<__int128>(value)) : static_cast<int64_t>(value);
  return true;
}

std::string FieldPath(absl::string_view path, absl::string_view key) {
  const bool plain = !key.empty() && key.size() <= kMaxShownKeyBytes &&
                     std::all_of(key.begin(), key.end(), [](char c) {
                       return absl::ascii_isalnum(c) || c == '_' || c == '-';
                     });
  if (!plain) {
    return absl::StrCat(path, "[", QuoteForError(key, kMaxShownKeyBytes), "]");
  }
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string ItemPath(absl::string_view path, size_t index) {
  return absl::StrCat(path, "[", index, "]");
}

std::string EscapeForError(absl::string_view text, size_t max_bytes) {
  std::string shown = absl::CHexEscape(text.substr(0, max_bytes));
  if (text.size() > max_bytes) shown += "...";
  return shown;
}

std::string QuoteForError(absl::string_view text, size_t max_bytes) {
  return absl::StrCat("\"", EscapeForError(text, max_bytes), "\"");
}

}  // namespace berth::controller
