// berth-bench-probes: what berthd's prober costs with N containers (default
// 1,000) each with an HTTP liveness probe every second, next to a floor
// measured in the same run: the same checks done by a plain shell loop
// (busybox wget, one per check).
//
// The containers are simulated by N tiny HTTP listeners on 127.0.0.1 in a
// child process (one epoll loop; its CPU is not counted as berthd's). The
// prober under test is berthd's own (controller::Prober with the
// RealActionRunner and its default 4 workers), given N running containers
// whose address is 127.0.0.1 (with --netns: whose process is the
// listeners', in a network namespace of its own without an address, so
// each probe enters it as for a container without CNI) and whose liveness
// probe is an httpGet of one listener each, period 1 s; it runs for --seconds, and this process's
// CPU time (user + system, all threads) is divided by the probes that ran. The floor: `busybox wget
// -q -O /dev/null` of --floor_checks listeners in a `sh` loop, its children's CPU time per check.
// The target (issue 15): the prober under 10% of one core.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/probe/prober.h"
#include "controller/probe/real_action_runner.h"
#include "runtime/network/netns.h"

ABSL_FLAG(int, n, 1000, "containers, one HTTP liveness probe each (period 1 s)");
ABSL_FLAG(int, seconds, 10, "how long the prober runs");
ABSL_FLAG(int, floor_checks, 300, "checks done by the shell loop for the floor");
ABSL_FLAG(bool, netns, false,
          "the listeners in a network namespace of their own, reached by entering it (a "
          "container without an address) instead of at 127.0.0.1 (a container with one)");

namespace {

using berth::controller::ActionResult;

double CpuMs(int who) {
  rusage u = {};
  getrusage(who, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

// N listening sockets on 127.0.0.1: their fds and ports.
void Listen(int n, std::vector<int>* fds, std::vector<int>* ports) {
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        listen(fd, 128) != 0) {
      perror("listen");
      exit(1);
    }
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    fds->push_back(fd);
    ports->push_back(ntohs(a.sin_port));
  }
}

// Answers every listener with one epoll loop until killed.
[[noreturn]] void Serve(const std::vector<int>& listeners) {
  int ep = epoll_create1(0);
  for (int fd : listeners) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = static_cast<uint64_t>(fd) | (1ull << 32);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  static const char kResponse[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  epoll_event events[256];
  while (true) {
    int k = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < k; ++i) {
      const int fd = static_cast<int>(events[i].data.u64 & 0xffffffff);
      if ((events[i].data.u64 >> 32) != 0) {
        while (true) {
          int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.u64 = static_cast<uint64_t>(c);
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      char buf[4096];
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0) (void)!write(fd, kResponse, sizeof(kResponse) - 1);
      close(fd);  // one request per connection (Connection: close)
    }
  }
}

// Counts the probes that ran (the ActionRunner's calls).
class CountingRunner : public berth::controller::ActionRunner {
 public:
  explicit CountingRunner(ActionRunner& real) : real_(real) {}
  ActionResult Run(const berth::controller::Handler& h, const berth::controller::ActionTarget& t,
                   absl::Duration timeout) override {
    ActionResult r = real_.Run(h, t, timeout);
    (r.success ? ok : failed).fetch_add(1);
    return r;
  }
  ActionRunner& real_;
  std::atomic<int64_t> ok{0}, failed{0};
};

// With --netns the containers' process is the listeners' (in their own
// network namespace); else the runtime is never asked (each has an address).
class NoRuntime : public berth::runtime::Runtime {
 public:
  absl::Status Create(const berth::runtime::ContainerSpec&) override { return Nope(); }
  absl::Status Start(const std::string&) override { return Nope(); }
  absl::Status Stop(const std::string&, absl::Duration) override { return Nope(); }
  absl::Status Delete(const std::string&) override { return Nope(); }
  absl::StatusOr<berth::runtime::ContainerStatus> State(const std::string& id) override {
    if (pid == 0) return Nope();
    berth::runtime::ContainerStatus c;
    c.id = id;
    c.state = berth::runtime::ContainerState::kRunning;
    c.pid = pid;
    return c;
  }
  absl::StatusOr<std::vector<berth::runtime::ContainerStatus>> List() override { return Nope(); }
  static absl::Status Nope() { return absl::UnimplementedError("not in the benchmark"); }
  int pid = 0;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_n);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur =
      std::max<rlim_t>(nofile.rlim_cur, std::min<rlim_t>(nofile.rlim_max, 4 * n + 256));
  setrlimit(RLIMIT_NOFILE, &nofile);
  const bool netns = absl::GetFlag(FLAGS_netns);
  // The listeners are made in the child (in its namespace with --netns);
  // their ports come back through a pipe.
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  pid_t server = fork();
  if (server == 0) {
    if (netns) {
      if (absl::Status s = berth::runtime::network::EnterNewNetns(); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        exit(1);
      }
    }
    std::vector<int> listeners, ports;
    Listen(n, &listeners, &ports);
    (void)!write(pipefd[1], ports.data(), ports.size() * sizeof(int));
    close(pipefd[1]);
    Serve(listeners);
  }
  close(pipefd[1]);
  std::vector<int> ports(n);
  size_t got = 0;
  while (got < ports.size() * sizeof(int)) {
    ssize_t r = read(pipefd[0], reinterpret_cast<char*>(ports.data()) + got,
                     ports.size() * sizeof(int) - got);
    if (r <= 0) return 1;
    got += static_cast<size_t>(r);
  }
  close(pipefd[0]);

  // The floor: the same checks by a shell loop.
  const int floor_checks = std::min(n, absl::GetFlag(FLAGS_floor_checks));
  std::string list;
  for (int i = 0; i < floor_checks; ++i) absl::StrAppend(&list, ports[i], " ");
  const std::string loop = absl::StrCat(
      "for p in ", list, "; do busybox wget -q -O /dev/null http://127.0.0.1:$p/ || exit 1; done");
  const double child0 = CpuMs(RUSAGE_CHILDREN);
  const absl::Time f0 = absl::Now();
  // With --netns the loop runs inside the namespace too (nsenter).
  const std::string enter = netns ? absl::StrCat("nsenter -t ", server, " -n ") : "";
  const int rc = std::system((enter + "sh -c '" + loop + "'").c_str());
  const double floor_wall_ms = absl::ToDoubleMilliseconds(absl::Now() - f0);
  const double floor_cpu_per_check = (CpuMs(RUSAGE_CHILDREN) - child0) / floor_checks;
  if (rc != 0) fprintf(stderr, "the shell loop failed (%d)\n", rc);

  NoRuntime runtime;
  if (netns) runtime.pid = server;
  berth::controller::RealActionRunner real(runtime, {"berth-probe/bench"});
  CountingRunner runner(real);
  berth::controller::ProberOptions o;
  o.kill = [](const std::string& id, const berth::controller::ProbeKill&) {
    fprintf(stderr, "unexpected kill of %s\n", id.c_str());
  };
  o.changed = [](const std::string&) {};
  berth::controller::Prober prober(runner, berth::controller::SteadyClock(),
                                   berth::controller::RealClock(), o);
  const double cpu0 = CpuMs(RUSAGE_SELF);
  const absl::Time t0 = absl::Now();
  for (int i = 0; i < n; ++i) {
    berth::controller::NodeContainer object;
    object.metadata.name = absl::StrCat("c", i);
    berth::controller::Probe p;
    p.handler.http_get = berth::controller::HttpGetAction{
        "/healthz", {ports[i], ""}, "", berth::controller::HttpScheme::kHttp, {}};
    p.period_seconds = 1;
    object.spec.liveness_probe = p;
    berth::runtime::ContainerStatus c;
    c.id = absl::StrCat("default.c", i);
    c.state = berth::runtime::ContainerState::kRunning;
    c.created_at = c.started_at = absl::Now() - absl::Hours(1);
    if (!netns) c.ip = "127.0.0.1";
    prober.Observe(c.id, object, &c);
  }
  absl::SleepFor(absl::Seconds(seconds));
  prober.Stop();
  const double wall_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  const double cpu_ms = CpuMs(RUSAGE_SELF) - cpu0;
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);

  const int64_t probes = runner.ok + runner.failed;
  const double per_probe_us = probes > 0 ? cpu_ms * 1e3 / probes : 0;
  printf(
      "probes: %d containers (%s), HTTP liveness every 1 s, %d s: %lld probes (%lld failed), "
      "%.1f probes/s\n",
      n, netns ? "each entered in its own network namespace" : "at 127.0.0.1", seconds,
      static_cast<long long>(probes), static_cast<long long>(runner.failed.load()),
      probes * 1e3 / wall_ms);
  printf("  prober CPU:   %.1f%% of one core, %.1f us per probe\n", 100 * cpu_ms / wall_ms,
         per_probe_us);
  printf("  floor (sh + busybox wget, %d checks in %.0f ms): %.1f us CPU per check\n", floor_checks,
         floor_wall_ms, floor_cpu_per_check * 1e3);
  printf(
      "  ratio: the prober's CPU per probe is %.3f x the floor's; target: under 10%% of a core "
      "(%s)\n",
      floor_cpu_per_check > 0 ? per_probe_us / (floor_cpu_per_check * 1e3) : 0,
      100 * cpu_ms / wall_ms < 10 ? "met" : "NOT met");
  return runner.failed > 0 ? 1 : 0;
}
