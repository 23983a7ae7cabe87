// Container networking on real runc and Debian's CNI plugins: addresses,
// published ports (TCP and UDP), /etc files, host-port clashes, many
// containers. See tests/network_fixture.h.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/network_fixture.h"

namespace berth::runtime {
namespace {

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

TEST_F(NetworkE2eTest, AnswersUdpOnItsIpAndItsHostPort) {
  ContainerSpec spec = UdpEchoSpec("udp");
  spec.ports = {{5353, 53, "udp", ""}};
  ASSERT_TRUE(runtime_->Create(spec).ok());
  ASSERT_TRUE(runtime_->Start("udp").ok());
  const std::string ip = MustState("udp").ip;
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(Log("udp"), "serving udp"); }, absl::Seconds(10)))
      << Log("udp");
  EXPECT_TRUE(
      WaitFor([&] { return UdpExchange(ip, 53, "direct") == "echo:direct"; }, absl::Seconds(5)));
  EXPECT_TRUE(WaitFor([&] { return UdpExchange(kGateway, 5353, "mapped") == "echo:mapped"; },
                      absl::Seconds(5)));
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
