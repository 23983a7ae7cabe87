#include "tests/stalling_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/sys/process.h"

namespace berth::testing {
namespace {

using runtime::UniqueFd;

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// Writes all of `data` unless the peer goes or `stop` is set.
bool SendAll(int fd, const char* data, size_t size, const std::atomic<bool>& stop) {
  while (size > 0 && !stop) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return size == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StallingProxy>> StallingProxy::Start(int target_port) {
  std::unique_ptr<StallingProxy> p(new StallingProxy());
  p->target_port_ = target_port;
  p->listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listener_ < 0) return absl::ErrnoToStatus(errno, "proxy: socket");
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof(a);
  if (bind(p->listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(p->listener_, 64) != 0 ||
      getsockname(p->listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return absl::ErrnoToStatus(errno, "proxy: listen on 127.0.0.1:0");
  }
  p->host_ = absl::StrCat("127.0.0.1:", ntohs(a.sin_port));
  p->acceptor_ = std::thread([raw = p.get()] { raw->Accept(); });
  return p;
}

StallingProxy::~StallingProxy() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_ >= 0) close(listener_);
  absl::MutexLock l(&mu_);
  for (std::thread& t : pumps_) t.join();
}

void StallingProxy::Accept() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    absl::MutexLock l(&mu_);
    pumps_.emplace_back([this, client, budget = budget_.load()] { Pump(client, budget); });
  }
}

void StallingProxy::Pump(int client_fd, int64_t budget) {
  UniqueFd client(client_fd);
  UniqueFd server(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_in target = Loopback(target_port_);
  if (!server.valid() ||
      connect(server.get(), reinterpret_cast<const sockaddr*>(&target), sizeof(target)) != 0) {
    return;
  }
  int64_t passed = 0;
  bool stalled = false;
  char buf[16384];
  while (!stop_) {
    // Once stalled, nothing more is read from the server (its send buffer
    // fills) and nothing is passed on; the client's requests are swallowed.
    pollfd p[2] = {{client.get(), POLLIN, 0},
                   {server.get(), stalled ? short{0} : short{POLLIN}, 0}};
    if (poll(p, 2, 100) <= 0) continue;
    if (p[0].revents != 0) {
      const ssize_t n = read(client.get(), buf, sizeof buf);
      if (n <= 0) return;
      if (!stalled && !SendAll(server.get(), buf, static_cast<size_t>(n), stop_)) return;
    }
    if (p[1].revents != 0) {
      size_t want = sizeof buf;
      if (budget >= 0) want = static_cast<size_t>(std::min<int64_t>(want, budget - passed));
      const ssize_t n = read(server.get(), buf, want);
      if (n <= 0) return;
      if (!SendAll(client.get(), buf, static_cast<size_t>(n), stop_)) return;
      passed += n;
    }
    if (!stalled && budget >= 0 && passed >= budget) {
      stalled = true;
      ++stalled_;
    }
  }
}

}  // namespace berth::testing
