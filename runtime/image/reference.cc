#include "runtime/image/reference.h"

#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::image {
namespace {

constexpr size_t kMaxNameLength = 255;

const std::regex& PathComponentRe() {
  static const std::regex* re = new std::regex("[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*");
  return *re;
}
const std::regex& DomainRe() {
  static const std::regex* re = new std::regex(
      "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
      "(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?");
  return *re;
}
const std::regex& TagRe() {
  static const std::regex* re = new std::regex("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return *re;
}

bool AllLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status Bad(absl::string_view ref, absl::string_view cause) {
  return absl::InvalidArgumentError(absl::StrCat("parse image reference \"", ref, "\": ", cause));
}

}  // namespace

std::string Reference::Name() const { return absl::StrCat(domain, "/", path); }

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) absl::StrAppend(&s, ":", tag);
  if (!digest.empty()) absl::StrAppend(&s, "@", digest);
  return s;
}

bool IsValidDigest(absl::string_view digest) { return ValidateDigest(digest).ok(); }

absl::Status ValidateDigest(absl::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest \"", digest, "\": want <algorithm>:<hex>"));
  }
  absl::string_view algorithm = digest.substr(0, colon);
  absl::string_view hex = digest.substr(colon + 1);
  if (algorithm != "sha256") {
    return absl::InvalidArgumentError(absl::StrCat("invalid digest \"", digest,
                                                   "\": unsupported algorithm \"", algorithm,
                                                   "\" (want sha256)"));
  }
  if (hex.size() != 64 || !AllLowerHex(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest \"", digest, "\": sha256 needs 64 lowercase hex digits"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Reference> ParseReference(absl::string_view ref) {
  if (ref.empty()) return Bad(ref, "empty");
  if (absl::StrContains(ref, "://")) return Bad(ref, "a reference has no URL scheme");
  Reference out;
  absl::string_view rest = ref;
  // Digest: everything after the first '@'.
  if (size_t at = rest.find('@'); at != absl::string_view::npos) {
    absl::string_view digest = rest.substr(at + 1);
    if (absl::Status s = ValidateDigest(digest); !s.ok()) return Bad(ref, s.message());
    out.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // Tag: after the last ':' when no '/' follows it (a ':' before a '/' is
  // a registry port).
  size_t colon = rest.rfind(':');
  size_t slash = rest.rfind('/');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    std::string tag(rest.substr(colon + 1));
    if (tag.empty()) return Bad(ref, "empty tag");
    if (!std::regex_match(tag, TagRe())) {
      return Bad(
          ref, absl::StrCat("invalid tag \"", tag, "\" (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"));
    }
    out.tag = tag;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Bad(ref, "empty repository name");
  // Domain: a first component with '.' or ':' or "localhost", or one that
  // is not lowercase (docker treats those as hosts too).
  absl::string_view remainder = rest;
  size_t first = rest.find('/');
  if (first != absl::string_view::npos) {
    absl::string_view head = rest.substr(0, first);
    if (absl::StrContains(head, ".") || absl::StrContains(head, ":") || head == "localhost" ||
        absl::AsciiStrToLower(head) != head) {
      if (!std::regex_match(std::string(head), DomainRe())) {
        return Bad(ref, absl::StrCat("invalid registry host \"", head, "\""));
      }
      out.domain = std::string(head);
      remainder = rest.substr(first + 1);
    }
  }
  if (out.domain.empty() || out.domain == "index.docker.io") out.domain = "docker.io";
  if (remainder.empty()) return Bad(ref, "empty repository name");
  // Path components.
  size_t start = 0;
  while (true) {
    size_t end = remainder.find('/', start);
    std::string component(remainder.substr(
        start, end == absl::string_view::npos ? absl::string_view::npos : end - start));
    if (component.empty()) return Bad(ref, "empty path component");
    if (absl::AsciiStrToLower(component) != component) {
      return Bad(ref, "repository name must be lowercase");
    }
    if (!std::regex_match(component, PathComponentRe())) {
      return Bad(ref, absl::StrCat("invalid path component \"", component,
                                   "\" (want [a-z0-9] separated by '.', '_', '__' or '-')"));
    }
    if (end == absl::string_view::npos) break;
    start = end + 1;
  }
  out.path = std::string(remainder);
  if (out.domain == "docker.io" && !absl::StrContains(out.path, "/")) {
    if (out.path.size() == 64 && AllLowerHex(out.path) &&
        ref.find('/') == absl::string_view::npos) {
      return Bad(ref, "repository name must not be a 64-byte hex string (an image id?)");
    }
    out.path = absl::StrCat("library/", out.path);
  }
  if (out.Name().size() > kMaxNameLength) {
    return Bad(ref, absl::StrCat("repository name longer than ", kMaxNameLength, " characters"));
  }
  if (out.tag.empty() && out.digest.empty()) out.tag = "latest";
  return out;
}

}  // namespace berth::image
