#include "controller/berthd/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "runtime/sys/unique_fd.h"

namespace berth::controller {
namespace {

// One STATUS line: a newline would start another KEY=value pair.
std::string StatusLine(absl::string_view status) {
  return absl::StrCat("STATUS=", absl::StrReplaceAll(status, {{"\n", " "}}));
}

}  // namespace

ServiceNotifier ServiceNotifier::FromEnvironment() {
  const char* value = getenv("NOTIFY_SOCKET");
  std::string address = value == nullptr ? "" : value;
  unsetenv("NOTIFY_SOCKET");
  return ServiceNotifier(std::move(address));
}

absl::Status ServiceNotifier::Ready(absl::string_view status) const {
  return Send(absl::StrCat("READY=1\n", StatusLine(status)));
}

absl::Status ServiceNotifier::Stopping(absl::string_view status) const {
  return Send(absl::StrCat("STOPPING=1\n", StatusLine(status)));
}

absl::Status ServiceNotifier::Status(absl::string_view status) const {
  return Send(StatusLine(status));
}

absl::Status ServiceNotifier::Send(absl::string_view message) const {
  if (address_.empty()) return absl::OkStatus();
  auto fail = [&](absl::string_view what, int err) {
    return absl::ErrnoToStatus(err,
                               absl::StrCat("notify service manager at ", address_, ": ", what));
  };
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  // A path, or "@name": the abstract name (a leading NUL, no terminator).
  if ((address_[0] != '/' && address_[0] != '@') || address_.size() < 2 ||
      address_.size() > sizeof addr.sun_path - (address_[0] == '/' ? 1 : 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("notify service manager: unsupported NOTIFY_SOCKET \"", address_, "\""));
  }
  memcpy(addr.sun_path, address_.data(), address_.size());
  if (address_[0] == '@') addr.sun_path[0] = '\0';
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                               (address_[0] == '/' ? 1 : 0));
  runtime::UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail("socket", errno);
  ssize_t n = sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr), len);
  if (n < 0) return fail("send", errno);
  if (static_cast<size_t>(n) != message.size()) return fail("short send", EMSGSIZE);
  return absl::OkStatus();
}

}  // namespace berth::controller
