// The fixture of the networking e2e tests (network_e2e_test.cc,
// network_recovery_e2e_test.cc): a TestWorld with a CNI network of
// Debian's plugins (bridge, host-local, portmap, loopback), and the checks
// that nothing of it is left. The test binary runs in a network namespace
// of its own, entered before main (network_fixture.cc): the bridge, veths
// and iptables rules exist only there, and all traffic stays inside it.
#ifndef BERTH_TESTS_NETWORK_FIXTURE_H_
#define BERTH_TESTS_NETWORK_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/fault_injectors.h"
#include "tests/test_env.h"

namespace berth::runtime {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

inline constexpr char kNetwork[] = "berth-e2e";
inline constexpr char kGateway[] = "10.77.0.1";

// True once this process is in its own network namespace with loopback up.
bool InOwnNetworkNamespace();

// The output of a command run in this namespace.
std::string Output(const std::vector<std::string>& argv);
// Sends `request` to ip:port over TCP and returns the whole answer.
std::string TcpExchange(const std::string& ip, int port, const std::string& request);
// The body of GET / from ip:port.
std::string HttpBody(const std::string& ip, int port);
// Sends `text` to ip:port over UDP and returns the first answer within
// 300 ms ("" without one).
std::string UdpExchange(const std::string& ip, int port, const std::string& text);
// argv of a program that answers every UDP datagram to `port` with
// "echo:" and the datagram (this test binary, see UdpEchoSpec).
inline constexpr char kUdpEchoFlag[] = "--berth-udp-echo=";

class NetworkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InOwnNetworkNamespace());
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

  // This binary as a UDP echo server on port 53, the host's /usr and
  // libraries mounted read-only for it.
  static ContainerSpec UdpEchoSpec(const std::string& id);

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

}  // namespace berth::runtime

#endif  // BERTH_TESTS_NETWORK_FIXTURE_H_
