// Container networking on real runc and Debian's CNI plugins (bridge,
// host-local, portmap, loopback). The whole binary runs in a network
// namespace of its own, entered before main: the bridge, the veths and
// the iptables rules the plugins make exist only there, and all traffic
// stays inside it.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/test_env.h"

namespace berth::runtime {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Before main and before any thread: this process, and every process it
// starts, leaves the machine's network namespace for a new one with
// loopback up.
const bool kInOwnNetns = [] {
  if (unshare(CLONE_NEWNET) != 0) {
    perror("unshare(CLONE_NEWNET)");
    abort();
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr = {};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) abort();
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) abort();
  close(fd);
  return true;
}();

constexpr char kNetwork[] = "berth-e2e";
constexpr char kGateway[] = "10.77.0.1";

// The output of a command run in this namespace.
std::string Output(const std::vector<std::string>& argv) {
  absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(20));
  return r.ok() ? r->output : r.status().ToString();
}

// Sends `request` to ip:port over TCP and returns the whole answer.
std::string TcpExchange(const std::string& ip, int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
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

void SendUdp(const std::string& ip, int port, const std::string& text) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  (void)!sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  close(fd);
}

class FailAt : public FaultInjector {
 public:
  explicit FailAt(std::string step) : step_(std::move(step)) {}
  absl::Status Check(absl::string_view step) override {
    if (step == step_) return absl::UnavailableError(absl::StrCat("injected fault at ", step));
    return absl::OkStatus();
  }

 private:
  std::string step_;
};

// Tells the parent through `ready_fd` and waits to be killed.
class BlockAt : public FaultInjector {
 public:
  BlockAt(std::string step, int ready_fd) : step_(std::move(step)), ready_fd_(ready_fd) {}
  absl::Status Check(absl::string_view step) override {
    if (step == step_) {
      (void)!write(ready_fd_, "0\n", 2);
      while (true) pause();
    }
    return absl::OkStatus();
  }

 private:
  std::string step_;
  int ready_fd_;
};

class NetworkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kInOwnNetns);
    BusyboxRootfs();  // before any test forks
    const std::string conflist = absl::StrCat(
        R"({"cniVersion":"1.0.0","name":")", kNetwork, R"(","plugins":[)",
        R"({"type":"bridge","bridge":"berth-e2e0","isGateway":true,"ipMasq":true,)",
        R"("ipam":{"type":"host-local","ranges":[[{"subnet":"10.77.0.0/16"}]],)",
        R"("routes":[{"dst":"0.0.0.0/0"}],"dataDir":")", IpamDir(), R"("}},)",
        R"({"type":"portmap","capabilities":{"portMappings":true}},)", R"({"type":"loopback"}]})");
    ASSERT_TRUE(MakeDirs(world_.cni_conf_dir()).ok());
    ASSERT_TRUE(WriteFileAtomic(world_.cni_conf_dir() + "/10-e2e.conflist", conflist).ok());
    runtime_ = OpenRuntime(world_.RuntimeOptions());
  }

  void TearDown() override {
    if (runtime_ != nullptr) {
      auto all = runtime_->List();
      ASSERT_TRUE(all.ok());
      for (const auto& c : *all) EXPECT_TRUE(runtime_->Delete(c.id).ok()) << c.id;
    }
    runtime_.reset();
    ExpectNetworkClean();
  }

  std::string IpamDir() const { return world_.dir() + "/ipam"; }

  // Everything the world and the network hold is gone: IPAM entries,
  // iptables rules of containers, veths, namespace files.
  void ExpectNetworkClean() {
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    std::vector<std::string> ips;
    for (const std::string& f : ListDirectory(IpamDir() + "/" + kNetwork)) {
      if (f != "lock" && !absl::StartsWith(f, "last_reserved_ip")) ips.push_back(f);
    }
    EXPECT_THAT(ips, IsEmpty()) << "IP addresses still allocated";
    const std::string rules = Output({"/usr/sbin/iptables-save"});
    EXPECT_THAT(rules, Not(HasSubstr("CNI-DN-"))) << rules;
    // The chains portmap shares between containers may stay; nothing of
    // one container (its masquerade chain has its id in a comment).
    EXPECT_THAT(rules, Not(HasSubstr(absl::StrCat("name: \"", kNetwork, "\" id:")))) << rules;
    const std::string links = Output({"/usr/sbin/ip", "-o", "link", "show", "type", "veth"});
    EXPECT_EQ(links, "") << links;
  }

  static std::vector<std::string> ListDirectory(const std::string& dir) {
    std::vector<std::string> out;
    auto r = RunCommand({"/bin/ls", "-A", dir}, absl::Seconds(5));
    if (!r.ok() || r->exit_code != 0) return out;
    for (absl::string_view l : absl::StrSplit(r->output, '\n', absl::SkipEmpty())) {
      out.emplace_back(l);
    }
    return out;
  }

  static std::unique_ptr<RuncRuntime> OpenRuntime(RuncRuntimeOptions options) {
    auto rt = RuncRuntime::Open(std::move(options));
    EXPECT_TRUE(rt.ok()) << rt.status();
    return rt.ok() ? *std::move(rt) : nullptr;
  }

  // httpd on port 80 serving "hello from <id>", and every UDP datagram to
  // port 53 printed to the log.
  static ContainerSpec WebSpec(const std::string& id) {
    ContainerSpec s;
    s.id = id;
    s.rootfs_layers = {BusyboxRootfs()};
    s.args = {"/bin/sh", "-c",
              absl::StrCat("mkdir -p /www && echo hello from ", id,
                           " > /www/index.html && httpd -p 80 -h /www && echo serving && "
                           "while true; do nc -u -l -p 53 -w 1; done")};
    return s;
  }

  static ContainerSpec SleepSpec(const std::string& id) {
    ContainerSpec s;
    s.id = id;
    s.rootfs_layers = {BusyboxRootfs()};
    s.args = {"/bin/sleep", "1000"};
    return s;
  }

  ContainerStatus MustState(const std::string& id) {
    auto st = runtime_->State(id);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : ContainerStatus{};
  }

  std::string Log(const std::string& id) {
    return ReadFile(world_.state_dir() + "/" + id + "/container.log").value_or("");
  }

  TestWorld world_;
  std::unique_ptr<RuncRuntime> runtime_;
};

TEST_F(NetworkE2eTest, ServesOnItsIpAndItsHostPortsWithItsOwnEtcFiles) {
  ContainerSpec spec = WebSpec("web");
  spec.ports = {{8080, 80, "tcp", ""}, {5353, 53, "udp", ""}};
  spec.hostname = "webhost";
  spec.host_aliases = {{"10.1.2.3", {"db", "db.local"}}};
  spec.dns = DnsSettings{{"10.0.0.10"}, {"svc.local"}, {"ndots:2"}};
  ASSERT_TRUE(runtime_->Create(spec).ok());
  ASSERT_TRUE(runtime_->Start("web").ok());
  const ContainerStatus st = MustState("web");
  ASSERT_THAT(st.ip, ::testing::StartsWith("10.77."));
  EXPECT_TRUE(IsMountPoint(world_.netns_dir() + "/web"));
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(Log("web"), "serving"); }, absl::Seconds(10)));

  // On its own address over the bridge, and on the node's (the gateway's)
  // through portmap.
  EXPECT_TRUE(WaitFor([&] { return HttpBody(st.ip, 80) == "hello from web\n"; }, absl::Seconds(5)));
  EXPECT_TRUE(
      WaitFor([&] { return HttpBody(kGateway, 8080) == "hello from web\n"; }, absl::Seconds(5)));
  const std::string root = absl::StrCat("/proc/", st.pid, "/root");
  const std::string hosts = ReadFile(root + "/etc/hosts").value_or("");
  EXPECT_THAT(hosts, ::testing::StartsWith("# Berth-managed hosts file.\n127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(hosts, HasSubstr(absl::StrCat("\n", st.ip, "\twebhost\n")));
  EXPECT_THAT(hosts, HasSubstr("\n10.1.2.3\tdb\tdb.local\n"));
  EXPECT_EQ(ReadFile(root + "/etc/resolv.conf").value_or(""),
            "nameserver 10.0.0.10\nsearch svc.local\noptions ndots:2\n");
  EXPECT_EQ(ReadFile(root + "/etc/hostname").value_or(""), "webhost\n");

  const std::string rules = Output({"/usr/sbin/iptables-save", "-t", "nat"});
  EXPECT_THAT(rules, HasSubstr("--dport 8080"));
  ASSERT_TRUE(runtime_->Delete("web").ok());
  ExpectNetworkClean();
  // A second delete is fine.
  EXPECT_TRUE(runtime_->Delete("web").ok());
}

TEST_F(NetworkE2eTest, ContainersReachEachOtherAndGetTheNodesResolvConf) {
  ASSERT_TRUE(runtime_->Create(WebSpec("server")).ok());
  ASSERT_TRUE(runtime_->Start("server").ok());
  const std::string server_ip = MustState("server").ip;
  ASSERT_FALSE(server_ip.empty());
  ContainerSpec client = SleepSpec("client");
  client.args = {"/bin/sh", "-c",
                 absl::StrCat("for i in $(seq 50); do wget -q -O - http://", server_ip,
                              "/ && break; sleep 0.1; done; sleep 1000")};
  ASSERT_TRUE(runtime_->Create(client).ok());
  ASSERT_TRUE(runtime_->Start("client").ok());
  EXPECT_NE(MustState("client").ip, server_ip);
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(Log("client"), "hello from server"); },
                      absl::Seconds(10)))
      << Log("client");
  const std::string root = absl::StrCat("/proc/", MustState("client").pid, "/root");
  EXPECT_EQ(ReadFile(root + "/etc/resolv.conf").value_or("x"),
            ReadFile("/etc/resolv.conf").value_or(""));
  EXPECT_EQ(ReadFile(root + "/etc/hostname").value_or(""), "client\n");
}

TEST_F(NetworkE2eTest, FailureAtEveryCreateStepLeavesNoNetworkBehind) {
  for (const char* step : kCreateSteps) {
    SCOPED_TRACE(step);
    FailAt faults(step);
    RuncRuntimeOptions options = world_.RuntimeOptions();
    options.faults = &faults;
    auto faulty = OpenRuntime(options);
    ASSERT_NE(faulty, nullptr);
    ContainerSpec spec = WebSpec("victim");
    spec.ports = {{8081, 80, "tcp", ""}};
    absl::Status s = faulty->Create(spec);
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(step));
    ExpectNetworkClean();
    // A retry starts clean.
    ASSERT_TRUE(runtime_->Create(spec).ok());
    EXPECT_FALSE(MustState("victim").ip.empty());
    ASSERT_TRUE(runtime_->Delete("victim").ok());
    ExpectNetworkClean();
  }
}

TEST_F(NetworkE2eTest, Kill9DuringCreateOrDeleteLeavesNothingAfterOpen) {
  runtime_.reset();
  const RuncRuntimeOptions options = world_.RuntimeOptions();
  // Crashes at the network steps and after them; the last case also loses
  // the record, leaving only the directory's network cache.
  const std::pair<const char*, bool> cases[] = {
      {"netns", false},       {"cni_add", false}, {"etc_files", false},
      {"runc_create", false}, {"cni_add", true},
  };
  for (const auto& [step, lose_record] : cases) {
    SCOPED_TRACE(absl::StrCat(step, lose_record ? " without record" : ""));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t holder = fork();
    if (holder == 0) {
      close(fds[0]);
      BlockAt faults(step, fds[1]);
      RuncRuntimeOptions o = options;
      o.faults = &faults;
      auto rt = RuncRuntime::Open(o);
      if (!rt.ok()) _exit(1);
      ContainerSpec spec = WebSpec("half");
      spec.ports = {{8082, 80, "tcp", ""}};
      (void)(*rt)->Create(spec);
      _exit(3);
    }
    close(fds[1]);
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1) << "the child never reached " << step;
    close(fds[0]);
    kill(holder, SIGKILL);
    int status;
    waitpid(holder, &status, 0);
    if (lose_record) {
      ASSERT_EQ(unlink((options.state_dir + "/half/state.json").c_str()), 0);
    }
    auto rt = OpenRuntime(options);
    ASSERT_NE(rt, nullptr);
    EXPECT_THAT(lose_record ? rt->recovery().orphans_removed : rt->recovery().rolled_back,
                ::testing::ElementsAre("half"));
    EXPECT_THAT(rt->recovery().errors, IsEmpty());
    ExpectNetworkClean();
  }

  // A delete caught before it released anything.
  {
    auto rt = OpenRuntime(options);
    ContainerSpec spec = WebSpec("going");
    spec.ports = {{8083, 80, "tcp", ""}};
    ASSERT_TRUE(rt->Create(spec).ok());
    ASSERT_TRUE(rt->Start("going").ok());
  }
  StateStore store(options.state_dir);
  absl::StatusOr<ContainerRecord> record = store.Read("going");
  ASSERT_TRUE(record.ok());
  record->phase = RecordPhase::kDeleting;
  ASSERT_TRUE(store.Write(*record).ok());
  // And a namespace file no container has.
  ASSERT_TRUE(MakeDirs(options.netns_dir).ok());
  ASSERT_TRUE(WriteFileAtomic(options.netns_dir + "/stray", "").ok());
  runtime_ = OpenRuntime(options);
  ASSERT_NE(runtime_, nullptr);
  EXPECT_THAT(runtime_->recovery().rolled_back, ::testing::ElementsAre("going"));
  EXPECT_THAT(runtime_->recovery().orphans_removed, ::testing::ElementsAre("stray"));
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  ExpectNetworkClean();
}

TEST_F(NetworkE2eTest, AHostPortTakenIsRefusedAndTheFirstContainerKeepsIt) {
  ContainerSpec first = WebSpec("first");
  first.ports = {{8090, 80, "tcp", ""}};
  ASSERT_TRUE(runtime_->Create(first).ok());
  ASSERT_TRUE(runtime_->Start("first").ok());

  ContainerSpec second = WebSpec("second");
  second.ports = {{8091, 80, "tcp", ""}, {8090, 80, "tcp", kGateway}};
  absl::Status s = runtime_->Create(second);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("is published by container first"));
  EXPECT_TRUE(absl::IsNotFound(runtime_->State("second").status()));
  EXPECT_TRUE(
      WaitFor([&] { return HttpBody(kGateway, 8090) == "hello from first\n"; }, absl::Seconds(5)));

  // Another protocol is another port.
  second.ports = {{8090, 80, "udp", ""}};
  EXPECT_TRUE(runtime_->Create(second).ok());

  // Racing creates: exactly one gets the port.
  std::atomic<int> won{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 4; ++i) {
    racers.emplace_back([&, i] {
      ContainerSpec r = SleepSpec(absl::StrCat("racer-", i));
      r.ports = {{8095, 80, "tcp", ""}};
      if (runtime_->Create(r).ok()) ++won;
    });
  }
  for (std::thread& t : racers) t.join();
  EXPECT_EQ(won.load(), 1);
}

TEST_F(NetworkE2eTest, WithoutANetworkPortsAreRefusedAndHostNetworkIsUnchanged) {
  ASSERT_EQ(unlink((world_.cni_conf_dir() + "/10-e2e.conflist").c_str()), 0);
  ContainerSpec spec = WebSpec("ported");
  spec.ports = {{8080, 80, "tcp", ""}};
  absl::Status s = runtime_->Create(spec);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("no CNI network in " + world_.cni_conf_dir()));

  // No ports: a namespace runc makes, loopback only, no address.
  ASSERT_TRUE(runtime_->Create(SleepSpec("plain")).ok());
  EXPECT_EQ(MustState("plain").ip, "");
  EXPECT_FALSE(IsMountPoint(world_.netns_dir() + "/plain"));

  ContainerSpec host = SleepSpec("hostnet");
  host.host_network = true;
  ASSERT_TRUE(runtime_->Create(host).ok());
  EXPECT_EQ(MustState("hostnet").ip, "");
  auto config = ReadFile(world_.state_dir() + "/hostnet/bundle/config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_THAT(*config, Not(HasSubstr("/etc/hosts")));
  EXPECT_THAT(*config, Not(HasSubstr("\"network\"")));
}

TEST_F(NetworkE2eTest, AHundredContainersGetDistinctAddressesAndGiveThemBack) {
  constexpr int kContainers = 100;
  constexpr int kThreads = 4;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kContainers; i += kThreads) {
        if (!runtime_->Create(SleepSpec(absl::StrCat("many-", i))).ok()) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const absl::Duration created = absl::Now() - start;
  ASSERT_EQ(failed.load(), 0);
  std::set<std::string> ips;
  for (int i = 0; i < kContainers; ++i) ips.insert(MustState(absl::StrCat("many-", i)).ip);
  ips.erase("");
  EXPECT_EQ(ips.size(), static_cast<size_t>(kContainers));

  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kContainers; i += kThreads) {
        if (!runtime_->Delete(absl::StrCat("many-", i)).ok()) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  std::printf("%d networked containers: created in %s, deleted in %s\n", kContainers,
              absl::FormatDuration(created).c_str(),
              absl::FormatDuration(absl::Now() - start - created).c_str());
  ExpectNetworkClean();
}

}  // namespace
}  // namespace berth::runtime
