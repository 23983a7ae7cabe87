// Fuzzes the WWW-Authenticate parser (ParseAuthChallenges), a header any
// registry (or anything answering in its place) chooses. Property: the
// challenges parsed, written back as `scheme key="value", ...` (quotes and
// backslashes escaped) and joined with ", ", parse back to the same
// challenges; schemes are never empty; schemes and keys are lowercase.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "runtime/image/auth_config.h"

namespace {

using berth::image::AuthChallenge;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "www_authenticate_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

std::string Quote(absl::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string Write(const std::vector<AuthChallenge>& challenges) {
  std::string out;
  for (const AuthChallenge& c : challenges) {
    if (!out.empty()) out += ", ";
    out += c.scheme;
    const char* sep = " ";
    for (const auto& [key, value] : c.params) {
      absl::StrAppend(&out, sep, key, "=", Quote(value));
      sep = ", ";
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view header(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<AuthChallenge>> parsed = berth::image::ParseAuthChallenges(header);
  if (!parsed.ok()) {
    Check(absl::IsInvalidArgument(parsed.status()), "a bad header is kInvalidArgument");
    return 0;
  }
  Check(!parsed->empty(), "at least one challenge");
  for (const AuthChallenge& c : *parsed) {
    Check(!c.scheme.empty(), "schemes are not empty");
    Check(c.scheme == absl::AsciiStrToLower(c.scheme), "schemes are lowercase");
    for (const auto& [key, value] : c.params) {
      Check(!key.empty() && key == absl::AsciiStrToLower(key), "keys are lowercase, not empty");
    }
  }
  const std::string written = Write(*parsed);
  absl::StatusOr<std::vector<AuthChallenge>> again = berth::image::ParseAuthChallenges(written);
  Check(again.ok(), "written challenges parse");
  Check(again->size() == parsed->size(), "same number of challenges");
  for (size_t i = 0; i < parsed->size(); ++i) {
    Check((*again)[i].scheme == (*parsed)[i].scheme, "same scheme");
    Check((*again)[i].params == (*parsed)[i].params, "same parameters");
  }
  return 0;
}
