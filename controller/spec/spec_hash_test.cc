#include "controller/spec/spec_hash.h"

#include <functional>
#include <string>
#include <vector>

#include "controller/spec/legacy_spec_hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using ::testing::StartsWith;

NodeContainer Object() {
  NodeContainer o;
  o.metadata.name = "web";
  o.metadata.labels = {{"app", "web"}};
  o.metadata.generation = 4;
  o.source = "/etc/berth/manifests/web.yaml:3";
  o.spec.image = "busybox:1.36";
  o.spec.command = {"sh", "-c"};
  o.spec.args = {"echo hi\nsleep 9"};
  o.spec.env = {{"A", "1"}, {"EMPTY", ""}};
  o.spec.working_dir = "/srv";
  o.spec.run_as_user = 1000;
  o.spec.limits = {250, 32 << 20, 16};
  o.spec.mounts = {{"/data", std::string("/var/lib/app"), std::nullopt, true},
                   {"/scratch", std::nullopt, int64_t{8} << 20, false}};
  o.spec.stop_signal = 9;
  return o;
}

// The canonical form is the contract of the hash: a change of it changes
// every container's hash, so it needs a new version (spec_hash.h).
TEST(SpecHashTest, CanonicalFormIsPinned) {
  EXPECT_EQ(CanonicalSpec(Object().spec),
            "berth.dev/spec-hash v2\n"
            "image 12:busybox:1.36\n"
            "command 2\n"
            "command[0] 2:sh\n"
            "command[1] 2:-c\n"
            "args 1\n"
            "args[0] 15:echo hi\nsleep 9\n"
            "env 2\n"
            "env[0].name 1:A\n"
            "env[0].value 1:1\n"
            "env[1].name 5:EMPTY\n"
            "env[1].value 0:\n"
            "workingDir 4:/srv\n"
            "runAsUser 1000\n"
            "runAsGroup -\n"
            "limits.cpuMillis 250\n"
            "limits.memoryBytes 33554432\n"
            "limits.pids 16\n"
            "mounts 2\n"
            "mounts[0].mountPath 5:/data\n"
            "mounts[0].hostPath 12:/var/lib/app\n"
            "mounts[0].tmpfsSizeBytes -\n"
            "mounts[0].readOnly true\n"
            "mounts[1].mountPath 8:/scratch\n"
            "mounts[1].hostPath -\n"
            "mounts[1].tmpfsSizeBytes 8388608\n"
            "mounts[1].readOnly false\n"
            "stopSignal 9\n"
            "hostNetwork false\n");
  EXPECT_EQ(SpecHash(Object().spec), "v2:f6df8483b935814c");
  EXPECT_EQ(SpecHash(NodeContainerSpec()), "v2:622f00700c3b1679");
}

TEST(SpecHashTest, EveryFieldThatNeedsANewContainerChangesIt) {
  const std::string h = SpecHash(Object().spec);
  EXPECT_THAT(h, StartsWith("v2:"));
  EXPECT_EQ(h.size(), 19u);
  const std::vector<std::pair<const char*, std::function<void(NodeContainerSpec&)>>> changes = {
      {"image", [](NodeContainerSpec& s) { s.image = "busybox:1.37"; }},
      {"command", [](NodeContainerSpec& s) { s.command = {"sh"}; }},
      {"args", [](NodeContainerSpec& s) { s.args.push_back(""); }},
      {"command to args",
       [](NodeContainerSpec& s) {
         s.args.insert(s.args.begin(), s.command.begin(), s.command.end());
         s.command.clear();
       }},
      {"env value", [](NodeContainerSpec& s) { s.env[1].value = "x"; }},
      {"env order", [](NodeContainerSpec& s) { std::swap(s.env[0], s.env[1]); }},
      {"workingDir", [](NodeContainerSpec& s) { s.working_dir = ""; }},
      {"user unset", [](NodeContainerSpec& s) { s.run_as_user.reset(); }},
      {"user 0", [](NodeContainerSpec& s) { s.run_as_user = 0; }},
      {"group", [](NodeContainerSpec& s) { s.run_as_group = 0; }},
      {"cpu", [](NodeContainerSpec& s) { s.limits.cpu_millis = 251; }},
      {"memory", [](NodeContainerSpec& s) { s.limits.memory_bytes = 0; }},
      {"pids", [](NodeContainerSpec& s) { s.limits.pids = 17; }},
      {"mount path", [](NodeContainerSpec& s) { s.mounts[0].mount_path = "/d"; }},
      {"host path", [](NodeContainerSpec& s) { s.mounts[0].host_path = "/var/lib/other"; }},
      {"tmpfs size unset", [](NodeContainerSpec& s) { s.mounts[1].tmpfs_size_bytes.reset(); }},
      {"read only", [](NodeContainerSpec& s) { s.mounts[1].read_only = true; }},
      {"mount gone", [](NodeContainerSpec& s) { s.mounts.pop_back(); }},
      {"stopSignal", [](NodeContainerSpec& s) { s.stop_signal = 15; }},
      {"hostNetwork", [](NodeContainerSpec& s) { s.host_network = true; }},
  };
  for (const auto& [what, change] : changes) {
    NodeContainer o = Object();
    change(o.spec);
    EXPECT_NE(SpecHash(o.spec), h) << what;
  }
}

// Writing the same container another way keeps the hash: the container
// would not differ.
TEST(SpecHashTest, WhatTheContainerGetsIsHashedNotHowItIsWritten) {
  NodeContainer o = Object();
  const std::string h = SpecHash(o.spec);
  NodeContainer dup = Object();
  dup.spec.env = {{"A", "0"}, {"EMPTY", ""}, {"A", "1"}};  // one A, first place, last value
  EXPECT_EQ(SpecHash(dup.spec), h);
  NodeContainer moved = Object();
  moved.spec.env = {{"EMPTY", ""}, {"A", "1"}};
  EXPECT_NE(SpecHash(moved.spec), h) << "the order of the variables is the container's";
  NodeContainer zero = Object();
  zero.spec.mounts[1].tmpfs_size_bytes = 0;
  NodeContainer unset = Object();
  unset.spec.mounts[1].tmpfs_size_bytes.reset();
  EXPECT_EQ(SpecHash(zero.spec), SpecHash(unset.spec)) << "0 is the default size";
  NodeContainer host_sized = Object();
  host_sized.spec.mounts[0].tmpfs_size_bytes = 4096;  // ignored on a hostPath mount
  EXPECT_EQ(SpecHash(host_sized.spec), h);
}

TEST(SpecHashTest, WhatDoesNotNeedANewContainerLeavesIt) {
  const std::string h = SpecHash(Object().spec);
  NodeContainer o = Object();
  o.spec.image_pull_policy = ImagePullPolicy::kNever;
  o.spec.image_pull_secrets = {"regcred"};
  o.spec.restart_policy = RestartPolicy::kNever;
  o.spec.termination_grace_period_seconds = 99;
  o.spec.node_name = "node-a";
  o.spec.node_selector = {{"disk", "ssd"}};
  EXPECT_EQ(SpecHash(o.spec), h);
}

NodeContainer Networked() {
  NodeContainer o = Object();
  o.spec.ports = {{"http", 8080, 18080, "", Protocol::kTcp},
                  {"dns", 53, 0, "", Protocol::kUdp},
                  {"", 8081, 18081, "127.0.0.1", Protocol::kUdp}};
  o.spec.hostname = "web-1";
  o.spec.dns_policy = DnsPolicy::kNone;
  o.spec.dns_config = DnsConfig{{"192.0.2.53"}, {"example.com"}, {{"ndots", "2"}, {"edns0", {}}}};
  o.spec.host_aliases = {{"192.0.2.10", {"db"}}};
  return o;
}

// A spec that does not use the networking fields keeps its form (and so
// every running container its hash: CanonicalFormIsPinned); one that does
// gets these lines after the others.
TEST(SpecHashTest, NetworkingIsAppendedOnlyWhenUsed) {
  const std::string base = CanonicalSpec(Object().spec);
  NodeContainer defaults = Object();
  defaults.spec.dns_policy = DnsPolicy::kDefault;
  defaults.spec.ports = {{"metrics", 9090, 0, "", Protocol::kTcp}};  // not published
  EXPECT_EQ(CanonicalSpec(defaults.spec), base);
  EXPECT_EQ(CanonicalSpec(Networked().spec), base +
                                                 "ports 2\n"
                                                 "ports[0].containerPort 8080\n"
                                                 "ports[0].hostPort 18080\n"
                                                 "ports[0].hostIP 0:\n"
                                                 "ports[0].protocol 3:TCP\n"
                                                 "ports[1].containerPort 8081\n"
                                                 "ports[1].hostPort 18081\n"
                                                 "ports[1].hostIP 9:127.0.0.1\n"
                                                 "ports[1].protocol 3:UDP\n"
                                                 "hostname 5:web-1\n"
                                                 "dnsPolicy 4:None\n"
                                                 "dnsConfig.nameservers 1\n"
                                                 "dnsConfig.nameservers[0] 10:192.0.2.53\n"
                                                 "dnsConfig.searches 1\n"
                                                 "dnsConfig.searches[0] 11:example.com\n"
                                                 "dnsConfig.options 2\n"
                                                 "dnsConfig.options[0].name 5:ndots\n"
                                                 "dnsConfig.options[0].value 1:2\n"
                                                 "dnsConfig.options[1].name 5:edns0\n"
                                                 "dnsConfig.options[1].value -\n"
                                                 "hostAliases 1\n"
                                                 "hostAliases[0].ip 10:192.0.2.10\n"
                                                 "hostAliases[0].hostnames 1\n"
                                                 "hostAliases[0].hostnames[0] 2:db\n");
  EXPECT_NE(SpecHash(Networked().spec), SpecHash(Object().spec));
}

TEST(SpecHashTest, EveryNetworkingChangeThatNeedsANewContainerChangesIt) {
  const std::string h = SpecHash(Networked().spec);
  const std::vector<std::pair<const char*, std::function<void(NodeContainerSpec&)>>> changes = {
      {"containerPort", [](NodeContainerSpec& s) { s.ports[0].container_port = 80; }},
      {"hostPort", [](NodeContainerSpec& s) { s.ports[0].host_port = 8080; }},
      {"hostIP", [](NodeContainerSpec& s) { s.ports[0].host_ip = "127.0.0.1"; }},
      {"protocol", [](NodeContainerSpec& s) { s.ports[0].protocol = Protocol::kUdp; }},
      {"published", [](NodeContainerSpec& s) { s.ports[1].host_port = 53; }},
      {"port gone", [](NodeContainerSpec& s) { s.ports.erase(s.ports.begin()); }},
      {"hostname", [](NodeContainerSpec& s) { s.hostname = "web-2"; }},
      {"hostname unset", [](NodeContainerSpec& s) { s.hostname.clear(); }},
      {"nameserver", [](NodeContainerSpec& s) { s.dns_config->nameservers[0] = "192.0.2.54"; }},
      {"search", [](NodeContainerSpec& s) { s.dns_config->searches.clear(); }},
      {"option value", [](NodeContainerSpec& s) { s.dns_config->options[1].value = ""; }},
      {"dns unset",
       [](NodeContainerSpec& s) {
         s.dns_policy = DnsPolicy::kDefault;
         s.dns_config.reset();
       }},
      {"alias ip", [](NodeContainerSpec& s) { s.host_aliases[0].ip = "192.0.2.11"; }},
      {"alias name", [](NodeContainerSpec& s) { s.host_aliases[0].hostnames.push_back("db2"); }},
  };
  for (const auto& [what, change] : changes) {
    NodeContainer o = Networked();
    change(o.spec);
    EXPECT_NE(SpecHash(o.spec), h) << what;
  }
  // A port's name and an unpublished port are informational.
  NodeContainer renamed = Networked();
  renamed.spec.ports[0].name = "web";
  renamed.spec.ports[1].container_port = 5353;
  EXPECT_EQ(SpecHash(renamed.spec), h);
}

// Probes and hooks change without a new container (kubelet reads them from
// the pod; Berth from the object, and preStop from the container's
// annotation): neither the hash nor its canonical form sees them.
TEST(SpecHashTest, ProbesAndLifecycleHooksLeaveIt) {
  const NodeContainer plain = Object();
  NodeContainer o = Object();
  Probe probe;
  probe.handler.http_get.emplace().port.number = 8080;
  probe.period_seconds = 3;
  probe.termination_grace_period_seconds = 4;
  o.spec.liveness_probe = probe;
  o.spec.readiness_probe = probe;
  o.spec.startup_probe = probe;
  o.spec.lifecycle.post_start.emplace().exec.emplace().command = {"touch", "/started"};
  o.spec.lifecycle.pre_stop.emplace().sleep.emplace().seconds = 5;
  EXPECT_EQ(CanonicalSpec(o.spec), CanonicalSpec(plain.spec));
  EXPECT_EQ(SpecHash(o.spec), SpecHash(plain.spec));
  o.spec.readiness_probe->handler.http_get->port.number = 9090;
  o.spec.lifecycle.pre_stop->sleep->seconds = 6;
  EXPECT_EQ(SpecHash(o.spec), SpecHash(plain.spec));
}

TEST(SpecHashTest, MatchesItsOwnFormAndTheLegacyOne) {
  const NodeContainer o = Object();
  const std::string legacy = LegacySpecHash(o);
  ASSERT_TRUE(IsLegacySpecHash(legacy));
  EXPECT_TRUE(SpecMatches(o, SpecHash(o.spec)));
  EXPECT_TRUE(SpecMatches(o, legacy)) << "a container of v0.1.0 is up to date";
  EXPECT_FALSE(SpecMatches(o, ""));
  EXPECT_FALSE(SpecMatches(o, "v2:0000000000000000"));
  EXPECT_FALSE(SpecMatches(o, "v3:" + SpecHash(o.spec).substr(3)));
  EXPECT_EQ(EffectiveObservedHash(o, legacy), SpecHash(o.spec));
  EXPECT_EQ(EffectiveObservedHash(o, SpecHash(o.spec)), SpecHash(o.spec));

  NodeContainer changed = o;
  changed.spec.args = {"sleep 10"};
  EXPECT_FALSE(SpecMatches(changed, legacy)) << "a changed spec recreates";
  EXPECT_FALSE(SpecMatches(changed, SpecHash(o.spec)));
  EXPECT_EQ(EffectiveObservedHash(changed, legacy), legacy);

  // What v0.1.0 did not recreate for still matches its containers.
  NodeContainer relabeled = o;
  relabeled.metadata.labels["tier"] = "front";
  relabeled.spec.termination_grace_period_seconds = 5;
  EXPECT_TRUE(SpecMatches(relabeled, legacy));

  // v0.1.0 had no networking: a spec that uses it recreates its container.
  NodeContainer published = o;
  published.spec.ports = {{"", 80, 8080, "", Protocol::kTcp}};
  EXPECT_EQ(LegacySpecHash(published), legacy) << "the legacy form does not see ports";
  EXPECT_FALSE(SpecMatches(published, legacy));
  NodeContainer named = o;
  named.spec.hostname = "other";
  EXPECT_FALSE(SpecMatches(named, legacy));
}

}  // namespace
}  // namespace berth::controller
