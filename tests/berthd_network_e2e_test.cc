// Container networking through berthd: real berthd, runc and CNI plugins
// (/usr/lib/cni). berthd runs inside a network namespace each test makes (a
// namespace file bind-mounted in the test's own temp dir, as berthd makes its
// containers' ones; not `ip netns add`, which leaves /run/netns and its
// self-bind mount on the machine), entered with nsenter --net, which keeps
// the machine's /sys and cgroup mounts. So the bridge, routes and iptables
// rules are made there, and every packet is sent from a thread that joined
// it: nothing of this reaches the machine's own network namespace, and the
// end of each test checks that no namespace is left mounted. The runtime's
// own networking tests are network_e2e_test.cc; these check what berthd adds:
// the fields of a NodeContainer, its status, and restarts of berthd.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/network/netns.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::WaitFor;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr char kBridge[] = "be2e0";  // exists only inside the test's namespace
constexpr char kGateway[] = "10.123.0.1";
constexpr char kCniBin[] = "/usr/lib/cni";
constexpr char kMachineNetnsDir[] = "/run/netns";  // `ip netns`'s

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") {
        names.emplace_back(e->d_name);
      }
    }
    closedir(d);
  }
  return names;
}

// The mounts of this mount namespace that are network namespace files
// (nsfs) under `dir`, or `ip netns`'s /run/netns (its self-bind mount and
// the namespaces in it): "<mount point> <fs type>" each.
std::vector<std::string> NetnsMounts(const std::string& dir) {
  std::vector<std::string> mounts;
  const std::string info = runtime::ReadFile("/proc/self/mountinfo").value_or("");
  for (absl::string_view line : absl::StrSplit(info, '\n', absl::SkipEmpty())) {
    // "id parent major:minor root mount-point options [optional...] - type source ..."
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || dash + 1 == fields.end()) continue;
    const absl::string_view point = fields[4];
    const absl::string_view type = *(dash + 1);
    const bool machine =
        point == kMachineNetnsDir || absl::StartsWith(point, absl::StrCat(kMachineNetnsDir, "/"));
    if (machine || (type == "nsfs" && absl::StartsWith(point, dir + "/"))) {
      mounts.push_back(absl::StrCat(point, " ", type));
    }
  }
  std::sort(mounts.begin(), mounts.end());
  return mounts;
}

// What is in `after` and not in `before`.
std::vector<std::string> Added(std::vector<std::string> before, std::vector<std::string> after) {
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(added));
  return added;
}

// Sends `payload` to ip:port (TCP: then reads to EOF; UDP: one datagram
// back) from the calling thread's network namespace; the reply, or "error:
// ..." after at most 2 s.
std::string Exchange(int type, const std::string& ip, int port, const std::string& payload) {
  runtime::UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  timeval timeout = {2, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return absl::StrCat("error: connect: ", strerror(errno));
  }
  if (send(fd.get(), payload.data(), payload.size(), MSG_NOSIGNAL) < 0) {
    return absl::StrCat("error: send: ", strerror(errno));
  }
  std::string reply;
  char buffer[4096];
  for (int i = 0; i < 256; ++i) {
    const ssize_t n = recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0) return reply.empty() ? absl::StrCat("error: recv: ", strerror(errno)) : reply;
    reply.append(buffer, static_cast<size_t>(n));
    if (n == 0 || type == SOCK_DGRAM) break;
  }
  return reply;
}

class BerthdNetworkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mounts_before_ = NetnsMounts(world_.dir());
    machine_netns_before_ = DirEntries(kMachineNetnsDir);
    for (const char* plugin : {"bridge", "host-local", "portmap", "loopback"}) {
      ASSERT_EQ(access(absl::StrCat(kCniBin, "/", plugin).c_str(), X_OK), 0)
          << "CNI plugin " << plugin << " missing (apt-get install containernetworking-plugins)";
    }
    // berthd's namespace (loopback up).
    absl::StatusOr<std::string> netns = runtime::network::CreateNetns(test_netns_dir_, "berthd");
    ASSERT_TRUE(netns.ok()) << netns.status();
    netns_ = *netns;
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(runtime::MakeDirs(conf_dir_).ok());
    ASSERT_TRUE(runtime::WriteFileAtomic(conf_dir_ + "/10-test.conflist", Conflist()).ok());
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "berthd log:\n" << berthd_.Log();
    if (berthd_.running()) {
      for (const std::string& f : DirEntries(manifests_)) unlink((manifests_ + "/" + f).c_str());
      // berthd deletes its containers inside the namespace (CNI DEL there).
      EXPECT_TRUE(WaitFor([&] { return DirEntries(world_.state_dir()).empty(); }, kWait))
          << berthd_.Log();
      berthd_.Stop(SIGTERM);
    }
    EXPECT_THAT(world_.RemoveContainers(), IsEmpty());
    EXPECT_THAT(NetworkLeaks(), IsEmpty());
    if (!netns_.empty()) {
      EXPECT_TRUE(runtime::network::RemoveNetns(netns_).ok());
      rmdir(test_netns_dir_.c_str());
    }
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    struct stat st;
    EXPECT_NE(stat(absl::StrCat("/sys/class/net/", kBridge).c_str(), &st), 0)
        << "a bridge in the machine's own network namespace";
    // Nothing of a network namespace is left mounted or in /run/netns.
    EXPECT_THAT(Added(mounts_before_, NetnsMounts(world_.dir())), IsEmpty());
    EXPECT_THAT(Added(machine_netns_before_, DirEntries(kMachineNetnsDir)), IsEmpty());
  }

  std::string Conflist() const {
    nlohmann::json bridge = {
        {"type", "bridge"},
        {"bridge", kBridge},
        {"isGateway", true},
        {"ipMasq", true},
        {"hairpinMode", true},
        {"ipam",
         {{"type", "host-local"},
          {"dataDir", ipam_dir_},
          {"ranges", {{{{"subnet", "10.123.0.0/24"}, {"gateway", kGateway}}}}}}}};
    nlohmann::json portmap = {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}};
    nlohmann::json loopback = {{"type", "loopback"}};
    return nlohmann::json{
        {"cniVersion", "1.0.0"}, {"name", "e2e"}, {"plugins", {bridge, portmap, loopback}}}
        .dump(2);
  }

  const std::string& NetnsPath() const { return netns_; }
  std::string InNetns(const std::vector<std::string>& argv) {
    std::vector<std::string> full = {"/usr/bin/nsenter", "--net=" + NetnsPath()};
    full.insert(full.end(), argv.begin(), argv.end());
    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(full, absl::Seconds(10));
    return r.ok() ? r->output : r.status().ToString();
  }

  // Exchange from a thread that joined the test's network namespace.
  std::string Send(int type, const std::string& ip, int port, const std::string& payload) {
    std::string reply = "error: setns";
    std::thread t([&] {
      runtime::UniqueFd ns(open(NetnsPath().c_str(), O_RDONLY | O_CLOEXEC));
      if (ns.get() >= 0 && setns(ns.get(), CLONE_NEWNET) == 0) {
        reply = Exchange(type, ip, port, payload);
      }
    });
    t.join();
    return reply;
  }
  // An HTTP GET of / at ip:port, retried until it answers (bounded).
  std::string HttpGet(const std::string& ip, int port) {
    std::string reply;
    WaitFor(
        [&] {
          reply = Send(SOCK_STREAM, ip, port, "GET / HTTP/1.0\r\n\r\n");
          return absl::StrContains(reply, "200 OK");
        },
        absl::Seconds(5));
    return reply;
  }
  std::string UdpEcho(const std::string& ip, int port) {
    std::string reply;
    WaitFor(
        [&] {
          reply = Send(SOCK_DGRAM, ip, port, "ping");
          return reply == "echo:ping";
        },
        absl::Seconds(5));
    return reply;
  }

  void StartBerthd() {
    std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=" + NetnsPath(), BERTH_BERTHD_PATH,
                                     "--manifests-dir=" + manifests_,
                                     "--images-dir=" + world_.dir() + "/images"};
    for (std::string& f : testing::BerthdTestFlags(world_)) argv.push_back(std::move(f));
    for (std::string f : {"--cni-conf-dir=" + conf_dir_, std::string("--cni-bin-dir=") + kCniBin,
                          std::string("--relist-period=100ms"), std::string("--workers=2")}) {
      argv.push_back(std::move(f));
    }
    ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  }

  void Write(const std::string& name, const std::string& spec) {
    testing::WriteManifestFile(manifests_, name + ".yaml",
                               absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
                                            "metadata: {name: ",
                                            name, "}\nspec:\n  image: busybox\n", spec));
  }
  nlohmann::json WaitRunning(const std::string& name) {
    return testing::WaitStatusFile(world_.berth_state_dir(), "default." + name, testing::IsRunning,
                                   kWait);
  }
  static std::string Httpd(int port) {
    return absl::StrCat(
        "  command: [sh, -c, 'echo hello from $(hostname) >/tmp/index.html; exec httpd -f -p ",
        port, " -h /tmp']\n  stopSignal: SIGKILL\n");
  }

  // Addresses host-local holds, namespaces under the run dir, and
  // per-container iptables rules in the test's namespace.
  std::vector<std::string> Allocations() const {
    std::vector<std::string> ips;
    for (const std::string& f : DirEntries(ipam_dir_ + "/e2e")) {
      in_addr a;
      if (inet_pton(AF_INET, f.c_str(), &a) == 1) ips.push_back(f);
    }
    return ips;
  }
  std::vector<std::string> NetworkLeaks() {
    std::vector<std::string> leaks;
    for (const std::string& ip : Allocations()) leaks.push_back("IP allocated: " + ip);
    for (const std::string& ns : DirEntries(world_.run_dir() + "/netns")) {
      leaks.push_back("network namespace: " + ns);
    }
    if (!netns_.empty()) {
      const std::string nat = InNetns({"/usr/sbin/iptables", "-t", "nat", "-S"});
      for (absl::string_view line : absl::StrSplit(nat, '\n')) {
        // portmap's per-container chains, and the bridge's masquerade rules
        // (commented with the container id); portmap's shared chains stay.
        if (absl::StrContains(line, "CNI-DN-") || absl::StrContains(line, "id: \\\"")) {
          leaks.push_back(absl::StrCat("iptables: ", line));
        }
      }
    }
    return leaks;
  }

  testing::TestWorld world_;
  testing::OwnedProcess berthd_;
  const std::string manifests_ = world_.dir() + "/manifests";
  const std::string conf_dir_ = world_.dir() + "/cni-conf";
  const std::string ipam_dir_ = world_.dir() + "/ipam";
  const std::string test_netns_dir_ = world_.dir() + "/test-netns";
  std::string netns_;  // the namespace berthd runs in, once made
  std::vector<std::string> mounts_before_;
  std::vector<std::string> machine_netns_before_;
};

TEST_F(BerthdNetworkE2eTest, HttpdOnItsAddressAndOnItsHostPortsTcpAndUdp) {
  StartBerthd();
  Write("web", absl::StrCat(
                   "  command: [sh, -c, 'echo hello from $(hostname) >/tmp/index.html; ",
                   "/udp/echo 5353 & exec httpd -f -p 8080 -h /tmp']\n", "  stopSignal: SIGKILL\n",
                   "  mounts: [{mountPath: /udp/echo, hostPath: {path: " BERTH_UDP_ECHO_PATH
                   "}, readOnly: true}]\n",
                   "  ports:\n", "  - {name: http, containerPort: 8080, hostPort: 18080}\n",
                   "  - {name: echo, containerPort: 5353, hostPort: 15353, "
                   "protocol: UDP}\n"));
  const nlohmann::json status = WaitRunning("web");
  const std::string ip = status.value("ip", "");
  ASSERT_THAT(ip, ::testing::StartsWith("10.123.0.")) << status.dump();
  EXPECT_THAT(Allocations(), ::testing::ElementsAre(ip));
  const std::vector<std::string> running = NetworkLeaks();
  EXPECT_GE(std::count_if(running.begin(), running.end(),
                          [](const std::string& l) { return absl::StrContains(l, "CNI-DN-"); }),
            2)
      << "the checks see a running container's port rules";
  EXPECT_TRUE(std::any_of(running.begin(), running.end(), [](const std::string& l) {
    return absl::StrContains(l, "id: ");
  })) << "and its masquerade rule";
  EXPECT_THAT(HttpGet(ip, 8080), HasSubstr("hello from web"));
  EXPECT_THAT(HttpGet(kGateway, 18080), HasSubstr("hello from web")) << "through portmap";
  EXPECT_EQ(UdpEcho(ip, 5353), "echo:ping");
  EXPECT_EQ(UdpEcho(kGateway, 15353), "echo:ping") << "through portmap";
  EXPECT_THAT(Send(SOCK_STREAM, kGateway, 18081, "x"), HasSubstr("error")) << "nothing else";
  // Delete: the address, the namespace and the rules go with it.
  unlink((manifests_ + "/web.yaml").c_str());
  ASSERT_TRUE(WaitFor([&] { return DirEntries(world_.state_dir()).empty(); }, kWait));
  EXPECT_THAT(NetworkLeaks(), IsEmpty());
  EXPECT_THAT(Send(SOCK_STREAM, kGateway, 18080, "GET / HTTP/1.0\r\n\r\n"), HasSubstr("error"));
}

TEST_F(BerthdNetworkE2eTest, TwoContainersReachEachOtherAndGetTheirEtcFiles) {
  StartBerthd();
  Write("a", Httpd(8080));
  const std::string a_ip = WaitRunning("a").value("ip", "");
  ASSERT_FALSE(a_ip.empty());
  const std::string out = world_.dir() + "/out";
  ASSERT_TRUE(runtime::MakeDirs(out).ok());
  Write("b", absl::StrCat("  command: [sh, -c, 'cat /etc/hostname /etc/hosts /etc/resolv.conf "
                          ">/out/files; wget -q -O /out/page http://",
                          a_ip,
                          ":8080/; exec sleep 1000']\n  stopSignal: SIGKILL\n"
                          "  mounts: [{mountPath: /out, hostPath: {path: ",
                          out,
                          "}}]\n"
                          "  hostname: bee\n  dnsPolicy: None\n"
                          "  dnsConfig: {nameservers: [192.0.2.53], searches: [example.com], "
                          "options: [{name: ndots, value: \"2\"}]}\n"
                          "  hostAliases: [{ip: 192.0.2.10, hostnames: [db, db.example.com]}]\n"));
  const std::string b_ip = WaitRunning("b").value("ip", "");
  ASSERT_FALSE(b_ip.empty());
  EXPECT_NE(a_ip, b_ip);
  std::string page;
  EXPECT_TRUE(WaitFor(
      [&] {
        page = runtime::ReadFile(out + "/page").value_or("");
        return !page.empty();
      },
      absl::Seconds(10)));
  EXPECT_THAT(page, HasSubstr("hello from a")) << "b reached a over the bridge";
  const std::string files = runtime::ReadFile(out + "/files").value_or("");
  EXPECT_THAT(files, HasSubstr("bee\n"));
  EXPECT_THAT(files,
              ::testing::ContainsRegex(absl::StrReplaceAll(b_ip, {{".", "\\."}}) + "\\s+bee"));
  EXPECT_THAT(files, ::testing::ContainsRegex("192\\.0\\.2\\.10\\s+db\\s+db\\.example\\.com"));
  EXPECT_THAT(files, HasSubstr("nameserver 192.0.2.53"));
  EXPECT_THAT(files, HasSubstr("search example.com"));
  EXPECT_THAT(files, HasSubstr("options ndots:2"));
  EXPECT_THAT(files, ::testing::ContainsRegex("127\\.0\\.0\\.1\\s+localhost"));
}

TEST_F(BerthdNetworkE2eTest, AHostPortConflictFailsTheSecondAndLeavesTheFirst) {
  StartBerthd();
  Write("first", Httpd(8080) + "  ports: [{containerPort: 8080, hostPort: 18080}]\n");
  const nlohmann::json first = WaitRunning("first");
  Write("second", Httpd(8080) + "  ports: [{containerPort: 8080, hostPort: 18080}]\n");
  const nlohmann::json second = testing::WaitStatusFile(
      world_.berth_state_dir(), "default.second",
      [](const nlohmann::json& s) { return !s.value("lastError", "").empty(); }, kWait);
  EXPECT_THAT(second.value("lastError", ""), HasSubstr("18080")) << second.dump();
  EXPECT_NE(second.value("phase", ""), "Running");
  const nlohmann::json still = testing::ReadStatusFile(world_.berth_state_dir(), "default.first");
  EXPECT_EQ(still.value("pid", 0), first.value("pid", -1)) << "the first one was left alone";
  EXPECT_THAT(HttpGet(kGateway, 18080), HasSubstr("hello from first"));
}

TEST_F(BerthdNetworkE2eTest, KillNineMidCreateAndMidDeleteLeavesNothing) {
  StartBerthd();
  Write("web", Httpd(8080) + "  ports: [{containerPort: 8080, hostPort: 18080}]\n");
  // Mid-create: as soon as its network namespace exists.
  ASSERT_TRUE(WaitFor([&] { return !DirEntries(world_.run_dir() + "/netns").empty(); }, kWait));
  berthd_.Stop(SIGKILL);
  StartBerthd();
  const std::string ip = WaitRunning("web").value("ip", "");
  EXPECT_THAT(Allocations(), ::testing::ElementsAre(ip)) << "one address, the running one's";
  EXPECT_EQ(DirEntries(world_.run_dir() + "/netns").size(), 1u);
  EXPECT_THAT(HttpGet(kGateway, 18080), HasSubstr("hello from web"));
  // Mid-delete: as soon as berthd says it deletes it.
  unlink((manifests_ + "/web.yaml").c_str());
  ASSERT_TRUE(
      WaitFor([&] { return berthd_.CountInLog("delete container default.web") > 0; }, kWait));
  berthd_.Stop(SIGKILL);
  StartBerthd();
  ASSERT_TRUE(WaitFor([&] { return DirEntries(world_.state_dir()).empty(); }, kWait))
      << berthd_.Log();
  EXPECT_TRUE(WaitFor([&] { return NetworkLeaks().empty(); }, kWait));
  EXPECT_THAT(NetworkLeaks(), IsEmpty());
}

TEST_F(BerthdNetworkE2eTest, TheHostNetworkIsUnchanged) {
  StartBerthd();
  Write("host",
        absl::StrCat("  hostNetwork: true\n", Httpd(18090), "  ports: [{containerPort: 18090}]\n"));
  const nlohmann::json status = WaitRunning("host");
  EXPECT_FALSE(status.contains("ip")) << status.dump();
  EXPECT_THAT(DirEntries(world_.run_dir() + "/netns"), IsEmpty());
  EXPECT_THAT(Allocations(), IsEmpty());
  // The namespace berthd runs in is the container's.
  EXPECT_THAT(HttpGet("127.0.0.1", 18090), HasSubstr("hello from"));
}

// --dry-run names both containers of a host-port clash (the runtime would
// refuse the second create).
TEST(BerthdNetworkDryRunTest, ReportsAHostPortClashNamingBoth) {
  testing::TestWorld world;
  const std::string manifests = world.dir() + "/manifests";
  ASSERT_TRUE(runtime::MakeDirs(manifests).ok());
  for (const char* name : {"a", "b"}) {
    testing::WriteManifestFile(
        manifests, std::string(name) + ".yaml",
        absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata: {name: ", name,
                     "}\nspec:\n  image: busybox\n  ports: [{containerPort: 80, hostPort: "
                     "18080}]\n"));
  }
  std::vector<std::string> argv = {BERTH_BERTHD_PATH, "--dry-run", "--manifests-dir=" + manifests,
                                   "--images-dir=" + world.dir() + "/images"};
  for (std::string& f : testing::BerthdTestFlags(world)) argv.push_back(std::move(f));
  absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 1) << r->output;
  EXPECT_THAT(r->output, HasSubstr("error: hostPort 18080/TCP of NodeContainer default/b is also "
                                   "published by NodeContainer default/a"));
  EXPECT_THAT(r->output, HasSubstr("create   default.a"));
  EXPECT_THAT(world.Leaks(), IsEmpty());
}

}  // namespace
}  // namespace berth
