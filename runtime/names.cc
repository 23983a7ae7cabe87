#include "runtime/names.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::runtime {
namespace {

bool IsLowerAlnum(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z'); }

// Returns an empty string when `label` is valid, otherwise the reason.
std::string LabelProblem(absl::string_view label) {
  if (label.empty()) return "empty label";
  if (label.size() > 63) return "label longer than 63 characters";
  for (char c : label) {
    if (!IsLowerAlnum(c) && c != '-') {
      if (absl::ascii_isprint(static_cast<unsigned char>(c))) {
        return absl::StrCat("invalid character '", std::string(1, c), "'");
      }
      return "invalid (non-printable) character";
    }
  }
  if (!IsLowerAlnum(label.front()) || !IsLowerAlnum(label.back())) {
    return "must start and end with a lowercase letter or digit";
  }
  return "";
}

absl::Status Invalid(absl::string_view what, absl::string_view value, absl::string_view why) {
  constexpr size_t kShown = 64;
  std::string shown(value.substr(0, kShown));
  if (value.size() > kShown) shown += "...";
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid ", what, " \"", absl::CHexEscape(shown), "\": ", why,
      " (a DNS-1123 name: lowercase letters, digits, '-' and '.')"));
}

}  // namespace

absl::Status ValidateDnsLabel(absl::string_view what, absl::string_view value) {
  std::string problem = LabelProblem(value);
  if (!problem.empty()) return Invalid(what, value, problem);
  return absl::OkStatus();
}

absl::Status ValidateDnsSubdomain(absl::string_view what, absl::string_view value) {
  if (value.empty()) return Invalid(what, value, "must not be empty");
  if (value.size() > 253) return Invalid(what, value, "longer than 253 characters");
  for (absl::string_view label : absl::StrSplit(value, '.')) {
    std::string problem = LabelProblem(label);
    if (!problem.empty()) return Invalid(what, value, problem);
  }
  return absl::OkStatus();
}

absl::Status ValidateContainerId(absl::string_view id) {
  if (id.size() > 128) return Invalid("container id", id, "longer than 128 characters");
  return ValidateDnsSubdomain("container id", id);
}

}  // namespace berth::runtime
