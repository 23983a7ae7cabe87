#include "controller/spec/field_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/spec/quantity.h"
#include "runtime/names.h"

namespace berth::controller {

// The API server rejects any other label or annotation key or value.
bool IsLabelName(absl::string_view s) {
  return !s.empty() && s.size() <= 63 && absl::ascii_isalnum(s.front()) &&
         absl::ascii_isalnum(s.back()) && std::all_of(s.begin(), s.end(), [](char c) {
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

Fields FieldReader::ReadFields(const YamlNode& n, std::string path,
                               std::initializer_list<absl::string_view> accepted) {
  Fields fields;
  fields.path = std::move(path);
  if (n.kind != YamlKind::kMap) {
    Error(n, fields.path, absl::StrCat("expected a mapping, got ", Describe(n)));
    return fields;
  }
  fields.map = &n;
  for (const YamlEntry& entry : MappingEntries(doc_, n, fields.path)) {
    const YamlNode& key = *entry.key;
    if (entry.error) {
      Error(*entry.error);
    } else if (accepted.size() > 0 &&
               std::find(accepted.begin(), accepted.end(), key.value) == accepted.end()) {
      Error(key, FieldPath(fields.path, key.value),
            absl::StrCat("unknown field ", QuoteForError(key.value, kMaxShownKeyBytes),
                         " (accepted: ", absl::StrJoin(accepted, ", "), ")"));
    } else if (TypeOf(*entry.value) != YamlType::kNull) {
      fields.values.emplace_back(key.value, entry.value);
    }
  }
  return fields;
}

bool FieldReader::ReadString(const YamlNode& n, absl::FunctionRef<std::string()> path,
                             std::string* out) {
  const YamlType type = TypeOf(n);
  if (type != YamlType::kString) {
    const bool quotable =
        type == YamlType::kBool || type == YamlType::kInt || type == YamlType::kFloat;
    Error(n, path(),
          absl::StrCat("expected a string, got ", Describe(n),
                       quotable ? absl::StrCat(" (quote it: ", QuoteForError(n.value), ")") : ""));
    return false;
  }
  if (n.value.find('\0') != std::string::npos) {
    Error(n, path(), "must not contain NUL characters");
    return false;
  }
  *out = n.value;
  return true;
}

bool FieldReader::ReadIntOrString(const YamlNode& n, absl::FunctionRef<std::string()> path,
                                  std::string* out) {
  const YamlType type = TypeOf(n);
  if (type == YamlType::kString) return ReadString(n, path, out);
  int64_t value;
  bool overflow = false;
  if (type == YamlType::kInt && ParseYamlInt(n.value, &value, &overflow) && !overflow) {
    *out = absl::StrCat(value);
    return true;
  }
  // The CRD's int-or-string schema takes no other numbers, so neither do we:
  // a manifest that works here must work with kubectl apply.
  Error(n, path(),
        overflow ? absl::StrCat("integer out of range: ", EscapeForError(n.value))
                 : absl::StrCat("expected an integer or a string, got ", Describe(n),
                                type == YamlType::kFloat
                                    ? absl::StrCat(" (quote it: ", QuoteForError(n.value), ")")
                                    : ""));
  return false;
}

void FieldReader::Int(const Fields& f, absl::string_view key, int64_t min, int64_t max,
                      int64_t* out) {
  const YamlNode* n = f.Get(key);
  if (!n) return;
  int64_t value = 0;
  bool overflow = false;
  if (TypeOf(*n) != YamlType::kInt || !ParseYamlInt(n->value, &value, &overflow)) {
    Error(*n, f.Path(key), absl::StrCat("expected an integer, got ", Describe(*n)));
  } else if (overflow || value < min || value > max) {
    Error(*n, f.Path(key),
          min == 0 && value < 0 && !overflow
              ? absl::StrCat("must not be negative, got ", EscapeForError(n->value))
              : absl::StrCat("must be between ", min, " and ", max, ", got ",
                             EscapeForError(n->value)));
  } else {
    *out = value;
  }
}

void FieldReader::Bool(const Fields& f, absl::string_view key, bool* out) {
  const YamlNode* n = f.Get(key);
  if (!n) return;
  if (TypeOf(*n) != YamlType::kBool) {
    Error(*n, f.Path(key), absl::StrCat("expected a boolean, got ", Describe(*n)));
  } else {
    *out = YamlBoolValue(*n);
  }
}

void FieldReader::StringList(const Fields& f, absl::string_view key,
                             std::vector<std::string>* out) {
  const YamlNode* n = f.Get(key);
  if (!n) return;
  if (n->kind != YamlKind::kSequence) {
    Error(*n, f.Path(key), absl::StrCat("expected a sequence of strings, got ", Describe(*n)));
    return;
  }
  for (size_t i = 0; i < n->children.size(); ++i) {
    std::string value;
    if (ReadString(
            At(n->children[i]), [&] { return ItemPath(f.Path(key), i); }, &value)) {
      out->push_back(std::move(value));
    }
  }
}

void FieldReader::StringMap(const Fields& f, absl::string_view key, MapKind kind,
                            std::map<std::string, std::string>* out) {
  Fields m = Sub(f, key, {});
  for (const auto& [name, value] : m.values) {
    auto path = [&m, name = name] { return m.Path(name); };
    std::string text;
    if (!ReadString(*value, path, &text)) continue;
    if (kind != MapKind::kPlain && !IsQualifiedName(name)) {
      Error(*value, path(),
            absl::StrCat("invalid key ", QuoteForError(name, kMaxShownKeyBytes),
                         " (an optional DNS prefix and '/', then 1-63 "
                         "letters, digits, '-', '_' or '.', starting and "
                         "ending with a letter or digit)"));
    } else if (kind == MapKind::kLabels && !text.empty() && !IsLabelName(text)) {
      Error(*value, path(),
            absl::StrCat("invalid label value ", QuoteForError(text),
                         " (at most 63 letters, digits, '-', '_' or '.', "
                         "starting and ending with a letter or digit)"));
    }
    (*out)[std::string(name)] = std::move(text);
  }
}

void FieldReader::Quantity(const Fields& f, absl::string_view key, bool cpu, int64_t min,
                           absl::string_view min_text, int64_t* out) {
  std::string text;
  const YamlNode* n = IntOrString(f, key, &text);
  if (!n) return;
  absl::StatusOr<int64_t> value = cpu ? ParseCpuMillis(text) : ParseBytes(text);
  if (!value.ok()) {
    Error(*n, f.Path(key), std::string(value.status().message()));
  } else if (*value < min) {
    Error(*n, f.Path(key),
          absl::StrCat("must be at least ", min_text, ", got ", QuoteForError(text)));
  } else {
    *out = *value;
  }
}

void FieldReader::Path(const Fields& f, absl::string_view key, std::string* out) {
  std::string text;
  const YamlNode* n = String(f, key, &text);
  if (!n) return;
  if (!absl::StartsWith(text, "/")) {
    Error(*n, f.Path(key), absl::StrCat("must be an absolute path, got ", QuoteForError(text)));
    return;
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(text, '/', absl::SkipEmpty())) {
    if (part == "..") {
      Error(*n, f.Path(key), absl::StrCat("must not contain \"..\", got ", QuoteForError(text)));
      return;
    }
    if (part != ".") parts.push_back(part);
  }
  *out = absl::StrCat("/", absl::StrJoin(parts, "/"));
}

}  // namespace berth::controller
