#include "tests/network_fixture.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/network/netns.h"

namespace berth::runtime {
namespace {

// Inside a container (argv[1] is kUdpEchoFlag<port>): answers datagrams
// until killed.
[[noreturn]] void ServeUdpEcho(int port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(1);
  std::printf("serving udp\n");
  std::fflush(stdout);
  while (true) {
    char buf[512];
    sockaddr_in from = {};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) continue;
    const std::string answer = "echo:" + std::string(buf, static_cast<size_t>(n));
    sendto(fd, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

// Before main and before any thread: this process, and every process it
// starts, leaves the machine's network namespace for a new one with
// loopback up (or, started as the UDP echo server, serves).
const bool kInOwnNetns = [] {
  const std::string cmdline = ReadFile("/proc/self/cmdline").value_or("");
  const std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
  if (argv.size() > 1 && absl::StartsWith(argv[1], kUdpEchoFlag)) {
    ServeUdpEcho(std::atoi(argv[1].c_str() + strlen(kUdpEchoFlag)));
  }
  if (absl::Status s = network::EnterNewNetns(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    abort();
  }
  return true;
}();

std::string ReadLink(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

sockaddr_in Address(const std::string& ip, int port) {
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

}  // namespace

bool InOwnNetworkNamespace() { return kInOwnNetns; }

std::string Output(const std::vector<std::string>& argv) {
  absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(20));
  return r.ok() ? r->output : r.status().ToString();
}

// Sends `request` to ip:port over TCP and returns the whole answer.
std::string TcpExchange(const std::string& ip, int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  const sockaddr_in a = Address(ip, port);
  timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

std::string HttpBody(const std::string& ip, int port) {
  const std::string raw = TcpExchange(ip, port, "GET / HTTP/1.0\r\n\r\n");
  const size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? "" : raw.substr(end + 4);
}

std::string UdpExchange(const std::string& ip, int port, const std::string& text) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  const sockaddr_in a = Address(ip, port);
  timeval tv = {0, 300000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (sendto(fd, text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a) ==
      static_cast<ssize_t>(text.size())) {
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) out.assign(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

ContainerSpec NetworkE2eTest::UdpEchoSpec(const std::string& id) {
  ContainerSpec s = SleepSpec(id);
  const std::string self = ReadLink("/proc/self/exe");
  s.args = {"/udp-echo", absl::StrCat(kUdpEchoFlag, 53)};
  s.mounts = {{MountSpec::Type::kBind, self, "/udp-echo", true, 0},
              {MountSpec::Type::kBind, "/usr", "/usr", true, 0},
              {MountSpec::Type::kBind, "/usr/lib", "/lib", true, 0},
              {MountSpec::Type::kBind, "/usr/lib64", "/lib64", true, 0}};
  return s;
}

}  // namespace berth::runtime
