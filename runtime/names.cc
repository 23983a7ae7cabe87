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
// `max_size` 0: no length limit.
std::string LabelProblem(absl::string_view label, size_t max_size = 63) {
  if (label.empty()) return "empty label";
  if (max_size != 0 && label.size() > max_size) return "label longer than 63 characters";
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
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", what, " \"", absl::CHexEscape(shown), "\": ", why,
                   " (a DNS-1123 name: lowercase letters, digits, '-' and '.')"));
}

}  // namespace

absl::Status ValidateDnsLabel(absl::string_view what, absl::string_view value) {
  std::string problem = LabelProblem(value);
  if (!problem.empty()) return Invalid(what, value, problem);
  return absl::OkStatus();
}

namespace {

absl::Status ValidateSubdomain(absl::string_view what, absl::string_view value, size_t max_size,
                               size_t max_label_size) {
  if (value.empty()) return Invalid(what, value, "must not be empty");
  if (value.size() > max_size) {
    return Invalid(what, value, absl::StrCat("longer than ", max_size, " characters"));
  }
  for (absl::string_view label : absl::StrSplit(value, '.')) {
    std::string problem = LabelProblem(label, max_label_size);
    if (!problem.empty()) return Invalid(what, value, problem);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDnsSubdomain(absl::string_view what, absl::string_view value) {
  return ValidateSubdomain(what, value, 253, 0);
}

absl::Status ValidateContainerId(absl::string_view id) {
  return ValidateSubdomain("container id", id, 128, 63);
}

}  // namespace berth::runtime
