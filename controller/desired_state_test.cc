#include "controller/desired_state.h"

#include "absl/strings/str_format.h"
#include "controller/diff.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/names.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeImages : public image::ImageStore {
 public:
  absl::StatusOr<image::ResolvedImage> Resolve(const std::string& ref, ImagePullPolicy,
                                               const image::PullAuth&) const override {
    if (ref != "app") return absl::NotFoundError("resolve image " + ref + ": not here");
    image::ResolvedImage i;
    i.reference = "app:latest";
    i.layers = {"/images/app/latest/rootfs"};
    i.entrypoint = {"/entry"};
    i.cmd = {"--default"};
    i.env = {"PATH=/bin", "MODE=image"};
    i.working_dir = "/work";
    return i;
  }
  bool Present(const std::string& ref) const override { return ref == "app"; }
};

NodeContainer Object() {
  NodeContainer o;
  o.metadata.name = "web";
  o.metadata.labels = {{"app", "web"}};
  o.metadata.generation = 4;
  o.source = "/etc/berth/manifests/web.yaml:3";
  o.spec.image = "app";
  return o;
}

TEST(DesiredStateTest, ImageDefaultsAndKubeletCommandRules) {
  FakeImages images;
  NodeContainer o = Object();
  auto spec = BuildContainerSpec(o, images);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->id, "default.web");
  EXPECT_EQ(spec->hostname, "web");
  NodeContainer host = o;
  host.spec.host_network = true;
  EXPECT_EQ(BuildContainerSpec(host, images)->hostname, "") << "host network keeps the node's name";
  EXPECT_THAT(spec->args, ElementsAre("/entry", "--default"));
  EXPECT_EQ(spec->working_dir, "/work");
  EXPECT_THAT(spec->rootfs_layers, ElementsAre("/images/app/latest/rootfs"));
  EXPECT_EQ(spec->annotations.at(kSourceFileAnnotation), "/etc/berth/manifests/web.yaml");
  EXPECT_EQ(spec->annotations.at(kGenerationAnnotation), "4");

  o.spec.args = {"--mine"};
  EXPECT_THAT(BuildContainerSpec(o, images)->args, ElementsAre("/entry", "--mine"));
  o.spec.command = {"/bin/sh"};
  o.spec.args = {};
  EXPECT_THAT(BuildContainerSpec(o, images)->args, ElementsAre("/bin/sh"))
      << "a command drops the image's Cmd";
  o.spec.env = {{"MODE", "spec"}, {"EXTRA", "1"}};
  EXPECT_THAT(BuildContainerSpec(o, images)->env, ElementsAre("PATH=/bin", "MODE=spec", "EXTRA=1"));
}

TEST(DesiredStateTest, NetworkFieldsReachTheRuntime) {
  FakeImages images;
  NodeContainer o = Object();
  o.spec.ports = {{"http", 8080, 18080, "", Protocol::kTcp},
                  {"metrics", 9090, 0, "", Protocol::kTcp},  // informational
                  {"dns", 53, 1053, "127.0.0.1", Protocol::kUdp}};
  o.spec.hostname = "front";
  o.spec.dns_policy = DnsPolicy::kNone;
  o.spec.dns_config = DnsConfig{{"192.0.2.53"}, {"example.com"}, {{"ndots", "2"}, {"edns0", {}}}};
  o.spec.host_aliases = {{"192.0.2.10", {"db", "db.example.com"}}};
  auto spec = BuildContainerSpec(o, images);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->hostname, "front");
  ASSERT_EQ(spec->ports.size(), 2u);
  EXPECT_EQ(spec->ports[0].host_port, 18080);
  EXPECT_EQ(spec->ports[0].container_port, 8080);
  EXPECT_EQ(spec->ports[0].protocol, "tcp");
  EXPECT_EQ(spec->ports[0].host_ip, "");
  EXPECT_EQ(spec->ports[1].host_port, 1053);
  EXPECT_EQ(spec->ports[1].container_port, 53);
  EXPECT_EQ(spec->ports[1].protocol, "udp");
  EXPECT_EQ(spec->ports[1].host_ip, "127.0.0.1");
  ASSERT_EQ(spec->host_aliases.size(), 1u);
  EXPECT_EQ(spec->host_aliases[0].ip, "192.0.2.10");
  EXPECT_THAT(spec->host_aliases[0].hostnames, ElementsAre("db", "db.example.com"));
  ASSERT_TRUE(spec->dns.has_value());
  EXPECT_THAT(spec->dns->nameservers, ElementsAre("192.0.2.53"));
  EXPECT_THAT(spec->dns->searches, ElementsAre("example.com"));
  EXPECT_THAT(spec->dns->options, ElementsAre("ndots:2", "edns0"));
  // CNI_ARGS as kubelet's for a pod: the object's namespace and name.
  EXPECT_THAT(spec->cni_args, ElementsAre(::testing::Pair("K8S_POD_NAMESPACE", "default"),
                                          ::testing::Pair("K8S_POD_NAME", "web")));

  // Default: the node's resolv.conf, and the name from metadata.
  NodeContainer plain = Object();
  spec = BuildContainerSpec(plain, images);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->dns.has_value());
  EXPECT_TRUE(spec->ports.empty());
  EXPECT_TRUE(spec->host_aliases.empty());
  EXPECT_EQ(spec->hostname, "web");

  // The host network: nothing to publish or write.
  NodeContainer host = Object();
  host.spec.host_network = true;
  host.spec.ports = {{"http", 8080, 8080, "", Protocol::kTcp}};
  spec = BuildContainerSpec(host, images);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->host_network);
  EXPECT_TRUE(spec->ports.empty());
  EXPECT_TRUE(spec->cni_args.empty());
  EXPECT_EQ(spec->hostname, "");
}

TEST(DesiredStateTest, HashIgnoresLabelsAndAnnotationsOnly) {
  FakeImages images;
  NodeContainer o = Object();
  const std::string h = BuildContainerSpec(o, images)->annotations.at(kSpecHashAnnotation);
  EXPECT_THAT(h, ::testing::MatchesRegex("v2:[0-9a-f]{16}"));
  NodeContainer relabeled = o;
  relabeled.metadata.labels["tier"] = "front";
  relabeled.metadata.annotations["note"] = "x";
  relabeled.metadata.generation = 5;
  relabeled.spec.termination_grace_period_seconds = 99;
  relabeled.source = "/elsewhere.yaml:1";
  EXPECT_EQ(BuildContainerSpec(relabeled, images)->annotations.at(kSpecHashAnnotation), h);
  NodeContainer changed = o;
  changed.spec.args = {"--other"};
  EXPECT_NE(BuildContainerSpec(changed, images)->annotations.at(kSpecHashAnnotation), h);
  changed = o;
  changed.spec.limits.memory_bytes = 64 << 20;
  EXPECT_NE(BuildContainerSpec(changed, images)->annotations.at(kSpecHashAnnotation), h);
}

TEST(DesiredStateTest, HashIsOfTheReferenceNotOfWhatItResolvesTo) {
  FakeImages images;
  NodeContainer o = Object();
  const std::string h = DesiredSpecHash(o);
  EXPECT_EQ(BuildContainerSpec(o, images)->annotations.at(kSpecHashAnnotation), h);
  image::ResolvedImage newer = *images.Resolve("app", ImagePullPolicy::kAlways, {});
  newer.layers = {"/snapshots/7/fs", "/snapshots/3/fs"};
  newer.entrypoint = {"/new-entry"};
  newer.env = {"PATH=/usr/bin"};
  newer.image_id = "sha256:0123";
  auto spec = BuildContainerSpec(o, newer);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->annotations.at(kSpecHashAnnotation), h) << "a new image behind the tag";
  EXPECT_EQ(spec->annotations.at(kImageIdAnnotation), "sha256:0123");
  EXPECT_THAT(spec->rootfs_layers, ElementsAre("/snapshots/7/fs", "/snapshots/3/fs"));
  NodeContainer other = o;
  other.spec.image = "app:2";
  EXPECT_NE(DesiredSpecHash(other), h);
  other = o;
  other.spec.image_pull_policy = ImagePullPolicy::kNever;
  EXPECT_EQ(DesiredSpecHash(other), h) << "the pull policy alone does not recreate";
}

TEST(DesiredStateTest, PullPolicyDefaultsLikeKubernetes) {
  NodeContainerSpec s;
  for (const auto& [image, want] : std::vector<std::pair<std::string, ImagePullPolicy>>{
           {"busybox", ImagePullPolicy::kAlways},
           {"busybox:latest", ImagePullPolicy::kAlways},
           {"127.0.0.1:5000/app", ImagePullPolicy::kAlways},
           {"127.0.0.1:5000/app:1.2", ImagePullPolicy::kIfNotPresent},
           {"busybox:1.36", ImagePullPolicy::kIfNotPresent},
           {"busybox@sha256:" + std::string(64, 'a'), ImagePullPolicy::kIfNotPresent}}) {
    s.image = image;
    EXPECT_EQ(EffectivePullPolicy(s), want) << image;
  }
  s.image = "busybox";
  s.image_pull_policy = ImagePullPolicy::kNever;
  EXPECT_EQ(EffectivePullPolicy(s), ImagePullPolicy::kNever);
}

TEST(DesiredStateTest, ErrorsNameTheContainer) {
  FakeImages images;
  NodeContainer o = Object();
  o.spec.image = "missing";
  auto s = BuildContainerSpec(o, images);
  EXPECT_TRUE(absl::IsNotFound(s.status()));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("build container default.web"));
}

// Names the API allows but that do not fit a container id directly run
// under their mapped id, with a valid hostname and their real names on the
// container.
TEST(DesiredStateTest, LongNamesBuild) {
  FakeImages images;
  for (const std::string& name :
       {std::string(100, 'a'), std::string(70, 'h') + ".x", std::string(253, 'b'),
        std::string(62, 'c') + "-" + std::string(10, 'd')}) {
    NodeContainer o = Object();
    o.metadata.name = name;
    absl::StatusOr<runtime::ContainerSpec> spec = BuildContainerSpec(o, images);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->id, ContainerIdFor(o.metadata));
    EXPECT_TRUE(runtime::ValidateContainerId(spec->id).ok()) << spec->id;
    EXPECT_LE(spec->hostname.size(), 63u);
    EXPECT_TRUE(runtime::ValidateDnsLabel("hostname", spec->hostname).ok()) << spec->hostname;
    EXPECT_EQ(spec->annotations[kNamespaceAnnotation], "default");
    EXPECT_EQ(spec->annotations[kNameAnnotation], name);
  }
  NodeContainer o = Object();
  o.metadata.name = std::string(62, 'c') + "-" + std::string(10, 'd');
  EXPECT_EQ(BuildContainerSpec(o, images)->hostname, std::string(62, 'c'));
  o.metadata.name = "web.example.com";
  EXPECT_EQ(BuildContainerSpec(o, images)->hostname, "web");
}

TEST(DesiredStateTest, NodeSelection) {
  NodeContainer o = Object();
  EXPECT_TRUE(IsForNode(o, "a", {}));
  o.spec.node_name = "b";
  EXPECT_FALSE(IsForNode(o, "a", {}));
  EXPECT_TRUE(IsForNode(o, "b", {}));
  o.spec.node_name = "";
  o.spec.node_selector = {{"disk", "ssd"}};
  EXPECT_FALSE(IsForNode(o, "a", {}));
  EXPECT_FALSE(IsForNode(o, "a", {{"disk", "hdd"}}));
  EXPECT_TRUE(IsForNode(o, "a", {{"disk", "ssd"}, {"zone", "1"}}));
}

TEST(LocalImageStoreTest, ResolvesReferencesSafely) {
  testing::TempDir tmp{"berth-images"};
  const std::string& dir = tmp.path();
  ASSERT_TRUE(runtime::MakeDirs(dir + "/busybox/latest/rootfs").ok());
  ASSERT_TRUE(runtime::MakeDirs(dir + "/127.0.0.1_5000/team/app/v1/rootfs").ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/busybox/latest/config.json",
                                       R"({"config":{"Cmd":["sh"],"Env":["A=1"]}})")
                  .ok());
  image::LocalImageStore store(dir);
  auto bb = store.Resolve("busybox", ImagePullPolicy::kAlways, {});
  ASSERT_TRUE(bb.ok()) << bb.status();
  EXPECT_EQ(bb->reference, "busybox:latest");
  EXPECT_THAT(bb->cmd, ElementsAre("sh"));
  EXPECT_THAT(bb->env, ElementsAre("A=1"));
  auto app = store.Resolve("127.0.0.1:5000/team/app:v1", ImagePullPolicy::kNever, {});
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_THAT(app->layers, ElementsAre(dir + "/127.0.0.1_5000/team/app/v1/rootfs"));
  EXPECT_TRUE(
      absl::IsNotFound(store.Resolve("busybox:1.36", ImagePullPolicy::kIfNotPresent, {}).status()));
  for (const char* bad : {"", "../busybox", "a/../../etc", "Busybox",
                          "busybox:", "busybox@sha256:00", "busybox:-x", "a//b"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(store.Resolve(bad, ImagePullPolicy::kNever, {}).status()))
        << bad;
  }
  const std::string by_digest = "busybox@sha256:" + std::string(64, 'a');
  EXPECT_THAT(store.Resolve(by_digest, ImagePullPolicy::kNever, {}).status().message(),
              HasSubstr("digest references are not supported by the local image store"));
}

TEST(DiffTest, DecidesEachCase) {
  std::vector<PlannedAction> plan =
      Diff({{"a", "h1"}, {"b", "h2"}, {"c", "h3"}}, {{"b", "h2"}, {"c", "old"}, {"d", "h4"}});
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].kind, ActionKind::kCreate);
  EXPECT_EQ(plan[1].kind, ActionKind::kNoop);
  EXPECT_EQ(plan[2].kind, ActionKind::kRecreate);
  EXPECT_EQ(plan[3].kind, ActionKind::kDelete);
  std::string text = FormatPlan(plan);
  EXPECT_THAT(text, HasSubstr("create   a"));
  EXPECT_THAT(text, HasSubstr("recreate c"));
  EXPECT_THAT(text, HasSubstr("delete   d"));
  EXPECT_THAT(text, HasSubstr("keep     b"));
}

}  // namespace
}  // namespace berth::controller
