#include "controller/api/label_selector.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/spec/field_reader.h"

namespace berth::api {
namespace {

using Op = LabelRequirement::Op;

absl::Status Fail(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("unable to parse requirement: ", why));
}

// A cursor over the selector's text.
class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  void SkipSpaces() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(absl::string_view s) {
    if (!absl::StartsWith(text_.substr(pos_), s)) return false;
    pos_ += s.size();
    return true;
  }
  // A key or value: up to a space or one of the selector's punctuation.
  std::string Word() {
    size_t start = pos_;
    while (pos_ < text_.size() && !absl::ascii_isspace(static_cast<unsigned char>(text_[pos_])) &&
           !absl::StrContains("=!,()", text_[pos_])) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  // Whether the next word is `keyword` (followed by a space or '(').
  bool ConsumeKeyword(absl::string_view keyword) {
    absl::string_view rest = text_.substr(pos_);
    if (!absl::StartsWith(rest, keyword)) return false;
    if (rest.size() > keyword.size() &&
        !absl::ascii_isspace(static_cast<unsigned char>(rest[keyword.size()])) &&
        rest[keyword.size()] != '(') {
      return false;
    }
    pos_ += keyword.size();
    return true;
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

absl::Status CheckKey(const std::string& key) {
  if (key.empty()) return Fail("a label key is missing");
  if (!controller::IsQualifiedName(key)) {
    return Fail(absl::StrCat("invalid label key \"", key,
                             "\": name part must consist of alphanumeric characters, '-', '_' or "
                             "'.', and must start and end with an alphanumeric character"));
  }
  return absl::OkStatus();
}

absl::Status CheckValue(const std::string& value) {
  if (!value.empty() && !controller::IsLabelName(value)) {
    return Fail(absl::StrCat("invalid label value: \"", value,
                             "\": must be 63 characters or less and consist of alphanumeric "
                             "characters, '-', '_' or '.', starting and ending alphanumerically"));
  }
  return absl::OkStatus();
}

// "(v1, v2)" after in/notin.
absl::Status ReadSet(Scanner& s, std::set<std::string>* values) {
  s.SkipSpaces();
  if (!s.Consume("(")) return Fail("expected '(' after in or notin");
  while (true) {
    s.SkipSpaces();
    std::string v = s.Word();
    if (absl::Status st = CheckValue(v); !st.ok()) return st;
    values->insert(v);
    s.SkipSpaces();
    if (s.Consume(")")) break;
    if (!s.Consume(",")) return Fail("expected ',' or ')' in a set of values");
  }
  if (values->size() == 1 && values->count("") == 1) {
    return Fail("for 'in', 'notin' operators, values set can't be empty");
  }
  return absl::OkStatus();
}

}  // namespace

bool LabelRequirement::Matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  const bool present = it != labels.end();
  switch (op) {
    case Op::kExists: return present;
    case Op::kDoesNotExist: return !present;
    case Op::kEquals:
    case Op::kIn: return present && values.count(it->second) > 0;
    case Op::kNotEquals:
    case Op::kNotIn: return !present || values.count(it->second) == 0;
  }
  return false;
}

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  LabelSelector selector;
  Scanner s(text);
  s.SkipSpaces();
  if (s.AtEnd()) return selector;
  while (true) {
    LabelRequirement r;
    s.SkipSpaces();
    if (s.Consume("!")) {
      s.SkipSpaces();
      r.key = s.Word();
      r.op = Op::kDoesNotExist;
      if (absl::Status st = CheckKey(r.key); !st.ok()) return st;
    } else {
      r.key = s.Word();
      if (absl::Status st = CheckKey(r.key); !st.ok()) return st;
      s.SkipSpaces();
      if (s.AtEnd() || s.Peek() == ',') {
        r.op = Op::kExists;
      } else if (s.Consume("==") || s.Consume("=")) {
        r.op = Op::kEquals;
      } else if (s.Consume("!=")) {
        r.op = Op::kNotEquals;
      } else if (s.ConsumeKeyword("notin")) {
        r.op = Op::kNotIn;
      } else if (s.ConsumeKeyword("in")) {
        r.op = Op::kIn;
      } else {
        return Fail(absl::StrCat("found '", std::string(1, s.Peek()), "' after key \"", r.key,
                                 "\", expected one of =, ==, !=, in, notin"));
      }
      if (r.op == Op::kEquals || r.op == Op::kNotEquals) {
        s.SkipSpaces();
        std::string v = s.Word();
        if (absl::Status st = CheckValue(v); !st.ok()) return st;
        r.values.insert(v);
      } else if (r.op == Op::kIn || r.op == Op::kNotIn) {
        if (absl::Status st = ReadSet(s, &r.values); !st.ok()) return st;
      }
    }
    selector.requirements_.push_back(std::move(r));
    s.SkipSpaces();
    if (s.AtEnd()) return selector;
    if (!s.Consume(",")) {
      return Fail(absl::StrCat("found '", std::string(1, s.Peek()), "', expected ','"));
    }
  }
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const LabelRequirement& r : requirements_) {
    if (!r.Matches(labels)) return false;
  }
  return true;
}

}  // namespace berth::api
