#include "controller/spec/node_container.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "runtime/image/digest.h"
#include "runtime/names.h"

namespace berth::controller {
namespace {

constexpr size_t kHashDigits = 20;
constexpr size_t kMaxLabel = 63;
constexpr size_t kPrefixChars = kMaxLabel - 1 - kHashDigits;  // 42

std::string DirectId(const ObjectMeta& meta) {
  return absl::StrCat(meta.namespace_, ".", meta.name);
}

bool IsIdChar(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-'; }

absl::string_view TrimDashes(absl::string_view s) {
  while (!s.empty() && s.front() == '-') s.remove_prefix(1);
  while (!s.empty() && s.back() == '-') s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsMappedContainerId(const ObjectMeta& meta) {
  return !runtime::ValidateContainerId(DirectId(meta)).ok();
}

std::string ContainerIdFor(const ObjectMeta& meta) {
  std::string direct = DirectId(meta);
  if (runtime::ValidateContainerId(direct).ok()) return direct;
  const std::string hash(
      image::DigestHex(image::DigestOf(absl::StrCat(meta.namespace_, "/", meta.name)))
          .substr(0, kHashDigits));
  std::string prefix = absl::StrCat(meta.namespace_, "-", meta.name);
  for (char& c : prefix) {
    if (!IsIdChar(c)) c = '-';
  }
  absl::string_view shown = TrimDashes(prefix);
  shown = TrimDashes(shown.substr(0, kPrefixChars));
  if (shown.empty()) return hash;
  return absl::StrCat(shown, "-", hash);
}

std::string RealNameNote(const ObjectMeta& meta) {
  if (!IsMappedContainerId(meta)) return "";
  return absl::StrCat(" (NodeContainer ", meta.namespace_, "/", meta.name, ")");
}

std::string HostnameFor(const ObjectMeta& meta) {
  absl::string_view first = meta.name;
  first = first.substr(0, first.find('.'));
  first = first.substr(0, kMaxLabel);
  while (!first.empty() && first.back() == '-') first.remove_suffix(1);
  return std::string(first);
}

}  // namespace berth::controller
