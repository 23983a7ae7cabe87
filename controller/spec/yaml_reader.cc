#include "controller/spec/yaml_reader.h"

#include <yaml.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
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
// '[', '{' and ',' in a whole file. libyaml streams flow collections (it
// looks ahead at most 1024 characters for a simple key), so this bounds
// nothing it would otherwise hold; the cap is kept so that what is refused
// does not depend on the reader.
constexpr int kMaxFlowCharacters = 20000;

constexpr char kStrTag[] = "tag:yaml.org,2002:str";

// Rejects what the parser should never see: oversized input, bytes YAML
// does not allow (NUL and other C0 controls, invalid UTF-8, which also
// excludes UTF-16/32 input) and more flow indicators than kMaxFlowCharacters.
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

// A plain, untagged scalar that YAML 1.1 reads as null ("key:" with no
// value, "~", "null").
bool IsPlainNull(const char* value, size_t length) {
  const absl::string_view v(value, length);
  return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

// Builds one document at a time from libyaml's events.
class TreeBuilder {
 public:
  YamlDocument& document() { return document_; }
  std::optional<int> first_alias() const { return first_alias_; }

  void StartDocument(const yaml_mark_t& mark) {
    document_ = YamlDocument{{}, static_cast<int>(mark.line) + 1, std::nullopt};
    document_.nodes.reserve(64);  // a manifest's usual size: no regrowth
    stack_.clear();
    first_alias_.reset();
  }
  // Returns a cap's error, or nullopt once the event is added.
  std::optional<YamlFileError> Add(const yaml_event_t& event) {
    const yaml_mark_t& mark = event.start_mark;
    switch (event.type) {
      case YAML_ALIAS_EVENT: {
        std::optional<YamlFileError> e = Push(YamlKind::kAlias, mark, "", "");
        if (!e && !first_alias_) first_alias_ = static_cast<int>(document_.nodes.size()) - 1;
        return e;
      }
      case YAML_SCALAR_EVENT: {
        const auto& scalar = event.data.scalar;
        const char* value = reinterpret_cast<const char*>(scalar.value);
        if (scalar.tag != nullptr) {
          return Push(YamlKind::kScalar, mark, reinterpret_cast<const char*>(scalar.tag),
                      absl::string_view(value, scalar.length));
        }
        if (!scalar.plain_implicit) {  // quoted or a block scalar: a string
          return Push(YamlKind::kScalar, mark, "!", absl::string_view(value, scalar.length));
        }
        if (IsPlainNull(value, scalar.length)) return Push(YamlKind::kNull, mark, "", "");
        return Push(YamlKind::kScalar, mark, "?", absl::string_view(value, scalar.length));
      }
      case YAML_SEQUENCE_START_EVENT:
        return Open(YamlKind::kSequence, mark, event.data.sequence_start.tag);
      case YAML_MAPPING_START_EVENT:
        return Open(YamlKind::kMap, mark, event.data.mapping_start.tag);
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (!stack_.empty()) stack_.pop_back();
        return std::nullopt;
      default: return std::nullopt;
    }
  }

 private:
  static YamlFileError Error(const yaml_mark_t& mark, std::string reason) {
    return YamlFileError{static_cast<int>(mark.line) + 1, static_cast<int>(mark.column) + 1,
                         std::move(reason)};
  }
  std::optional<YamlFileError> Push(YamlKind kind, const yaml_mark_t& mark, absl::string_view tag,
                                    absl::string_view value) {
    std::vector<YamlNode>& nodes = document_.nodes;
    if (nodes.size() >= kMaxNodesPerDocument) {
      return Error(mark,
                   absl::StrCat("more than ", kMaxNodesPerDocument, " YAML nodes in one document"));
    }
    const int index = static_cast<int>(nodes.size());
    nodes.push_back(YamlNode{kind,
                             static_cast<int>(mark.line) + 1,
                             static_cast<int>(mark.column) + 1,
                             std::string(tag),
                             std::string(value),
                             {}});
    if (!stack_.empty()) nodes[stack_.back()].children.push_back(index);
    return std::nullopt;
  }
  std::optional<YamlFileError> Open(YamlKind kind, const yaml_mark_t& mark,
                                    const yaml_char_t* tag) {
    if (stack_.size() >= kMaxDepth) {
      return Error(mark, absl::StrCat("YAML nested deeper than ", kMaxDepth, " levels"));
    }
    std::optional<YamlFileError> e =
        Push(kind, mark, tag != nullptr ? reinterpret_cast<const char*>(tag) : "?", "");
    if (!e) stack_.push_back(static_cast<int>(document_.nodes.size()) - 1);
    return e;
  }

  YamlDocument document_;
  std::vector<int> stack_;
  std::optional<int> first_alias_;
};

// libyaml's description of why `parser` stopped: "did not find expected
// key while parsing a block mapping (started at 2:3)". Its problem and
// context are fixed texts of libyaml's, never the input's.
YamlFileError ParserError(const yaml_parser_t& parser) {
  if (parser.error == YAML_MEMORY_ERROR) return YamlFileError{0, 0, "invalid YAML: out of memory"};
  std::string reason =
      absl::StrCat("invalid YAML: ", parser.problem != nullptr ? parser.problem : "unknown error");
  if (parser.context != nullptr) {
    absl::StrAppend(&reason, " ", parser.context, " (started at ", parser.context_mark.line + 1,
                    ":", parser.context_mark.column + 1, ")");
  }
  return YamlFileError{static_cast<int>(parser.problem_mark.line) + 1,
                       static_cast<int>(parser.problem_mark.column) + 1, std::move(reason)};
}

bool IsFloat(absl::string_view s) {
  static constexpr absl::string_view kSpecial[] = {".inf",  ".Inf",  ".INF",  "+.inf",
                                                   "+.Inf", "+.INF", "-.inf", "-.Inf",
                                                   "-.INF", ".nan",  ".NaN",  ".NAN"};
  if (std::find(std::begin(kSpecial), std::end(kSpecial), s) != std::end(kSpecial)) return true;
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

constexpr absl::string_view kTrueWords[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                            "True", "TRUE", "on",  "On",  "ON"};
constexpr absl::string_view kFalseWords[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                             "False", "FALSE", "off", "Off", "OFF"};

bool IsTrueWord(absl::string_view v) {
  return std::find(std::begin(kTrueWords), std::end(kTrueWords), v) != std::end(kTrueWords);
}
bool IsFalseWord(absl::string_view v) {
  return std::find(std::begin(kFalseWords), std::end(kFalseWords), v) != std::end(kFalseWords);
}

}  // namespace

std::optional<YamlFileError> ReadYamlDocuments(
    absl::string_view content, const std::function<void(const YamlDocument&)>& on_document) {
  if (std::optional<YamlFileError> e = PreScan(content)) return e;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return YamlFileError{0, 0, "invalid YAML: out of memory"};
  absl::Cleanup delete_parser = [&parser] { yaml_parser_delete(&parser); };
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(content.data()),
                               content.size());
  TreeBuilder builder;
  // libyaml ends with STREAM-END or an error, and every event but a
  // collection's end consumes input; the cap makes that bound explicit.
  const size_t max_events = 4 * content.size() + 16;
  for (size_t events = 0;; ++events) {
    if (events > max_events) {
      return YamlFileError{0, 0, "invalid YAML: the parser did not reach the end of the input"};
    }
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) return ParserError(parser);
    absl::Cleanup delete_event = [&event] { yaml_event_delete(&event); };
    switch (event.type) {
      case YAML_STREAM_END_EVENT: return std::nullopt;
      case YAML_DOCUMENT_START_EVENT: builder.StartDocument(event.start_mark); break;
      case YAML_DOCUMENT_END_EVENT: {
        YamlDocument& document = builder.document();
        const std::vector<YamlNode>& nodes = document.nodes;
        if (nodes.empty() || (nodes.size() == 1 && TypeOf(nodes[0]) == YamlType::kNull)) {
          break;  // an empty document
        }
        if (std::optional<int> alias = builder.first_alias()) {
          document.refused = YamlNodeError{nodes[*alias].line, nodes[*alias].column,
                                           FindPath(nodes, *alias, 0, ""),
                                           "YAML aliases are not supported (write the value out)"};
        }
        try {
          on_document(document);
        } catch (const std::exception& e) {
          return YamlFileError{0, 0, absl::StrCat("reading a YAML document: ", e.what())};
        }
        break;
      }
      default:
        if (std::optional<YamlFileError> e = builder.Add(event)) return e;
    }
  }
}

std::vector<YamlEntry> MappingEntries(const YamlDocument& doc, const YamlNode& map,
                                      absl::string_view path) {
  std::vector<YamlEntry> entries;
  entries.reserve(map.children.size() / 2);
  absl::flat_hash_map<absl::string_view, const YamlNode*> seen;
  seen.reserve(map.children.size() / 2);
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
  if (v.empty()) return YamlType::kNull;
  // Only a plain scalar starting with one of these can be other than a
  // string (null, a boolean, an integer or a float): most are strings.
  if (v[0] == '\0' ||
      (!absl::ascii_isdigit(v[0]) && std::strchr("+-.~nNyYtTfFoO", v[0]) == nullptr)) {
    return YamlType::kString;
  }
  if (v == "~" || v == "null" || v == "Null" || v == "NULL") return YamlType::kNull;
  if (IsTrueWord(v) || IsFalseWord(v)) return YamlType::kBool;
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

bool YamlBoolValue(const YamlNode& n) { return IsTrueWord(n.value); }

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
