#include "controller/probe/net_dial.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::controller {
namespace {

// Go's wording, as kubelet's messages have it: "connect: connection refused".
std::string ConnectError(int err) {
  std::string e = strerror(err);
  if (!e.empty()) e[0] = static_cast<char>(tolower(e[0]));
  return "connect: " + e;
}

std::string NetNamespace(const std::string& proc_dir) {
  char buf[128];
  const std::string link = proc_dir + "/ns/net";
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// A socket of `family` created inside the network namespace `ns_fd` by a
// thread of its own (setns changes only the calling thread's namespace,
// and that thread ends right after).
absl::StatusOr<runtime::UniqueFd> SocketIn(int ns_fd, int family) {
  int fd = -1;
  int err = 0;
  std::thread t([&] {
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) err = errno;
  });
  t.join();
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("create a socket in the container's network namespace: ", strerror(err)));
  }
  return runtime::UniqueFd(fd);
}

}  // namespace

absl::StatusOr<int> ResolvePort(const PortRef& port, const ActionTarget& target) {
  int number = port.number;
  if (number == 0 && !port.name.empty()) {
    for (const ContainerPort& p : target.ports) {
      if (p.name == port.name) number = p.container_port;
    }
    if (number == 0) {
      return absl::InvalidArgumentError(absl::StrCat("no port named \"", port.name, "\""));
    }
  }
  if (number < 1 || number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port ", number));
  }
  return number;
}

bool WaitFd(int fd, bool write, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
    int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r > 0) return true;  // ready, or an error the next call reports
  }
}

absl::StatusOr<runtime::UniqueFd> DialContainer(runtime::Runtime& runtime,
                                                const ActionTarget& target, const std::string& host,
                                                int port, absl::Time deadline, std::string* peer) {
  std::string address = host;
  runtime::UniqueFd ns;  // set: create the socket in this namespace
  if (!target.ip.empty()) {
    if (address.empty()) address = target.ip;
  } else {
    absl::StatusOr<runtime::ContainerStatus> st = runtime.State(target.container_id);
    if (!st.ok()) return st.status();
    if (st->pid <= 0 || st->state != runtime::ContainerState::kRunning) {
      return absl::NotFoundError(
          absl::StrCat("container ", target.container_id, " is not running"));
    }
    const std::string proc = absl::StrCat("/proc/", st->pid);
    const std::string theirs = NetNamespace(proc);
    if (theirs.empty()) {
      return absl::NotFoundError(
          absl::StrCat("container ", target.container_id, " is not running"));
    }
    if (theirs != NetNamespace("/proc/self")) {
      ns.Reset(open((proc + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns.valid()) {
        return absl::NotFoundError(absl::StrCat("open the network namespace of container ",
                                                target.container_id, ": ", strerror(errno)));
      }
    }
    if (address.empty()) address = "127.0.0.1";
  }
  const std::string where = address.find(':') != std::string::npos
                                ? absl::StrCat("[", address, "]:", port)
                                : absl::StrCat(address, ":", port);
  if (peer != nullptr) *peer = where;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = absl::StrCat(port);
  if (int r = getaddrinfo(address.c_str(), service.c_str(), &hints, &res); r != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", address, ": ", gai_strerror(r)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, freeaddrinfo);
  runtime::UniqueFd fd;
  if (ns.valid()) {
    absl::StatusOr<runtime::UniqueFd> s = SocketIn(ns.get(), res->ai_family);
    if (!s.ok()) return s.status();
    fd = *std::move(s);
  } else {
    fd.Reset(socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  if (connect(fd.get(), res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(absl::StrCat("dial tcp ", where, ": ", ConnectError(errno)));
    }
    if (!WaitFd(fd.get(), true, deadline)) {
      return absl::DeadlineExceededError(absl::StrCat("dial tcp ", where, ": i/o timeout"));
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return absl::UnavailableError(absl::StrCat("dial tcp ", where, ": ", ConnectError(err)));
    }
  }
  return fd;
}

}  // namespace berth::controller
