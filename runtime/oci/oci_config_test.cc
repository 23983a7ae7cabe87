#include "runtime/oci/oci_config.h"

#include <sys/resource.h>

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime::oci {
namespace {

using nlohmann::json;

bool HasNamespace(const json& config, const std::string& type) {
  for (const auto& ns : config["linux"]["namespaces"]) {
    if (ns["type"] == type) return true;
  }
  return false;
}

ContainerSpec Spec() {
  ContainerSpec s;
  s.id = "web.default";
  s.rootfs_layers = {"/img"};
  s.args = {"/bin/httpd", "-f"};
  s.env = {"A=1"};
  s.uid = 1000;
  s.gid = 100;
  s.working_dir = "/srv";
  s.resources = {64 << 20, 1500, 20};
  s.mounts = {{MountSpec::Type::kBind, "/host/data", "/data", true, 0},
              {MountSpec::Type::kTmpfs, "", "/scratch", false, 1 << 20}};
  s.annotations = {{"k", "v"}};
  return s;
}

TEST(OciConfigTest, ProcessAndUser) {
  json c = BuildOciConfig(Spec(), {"/b/rootfs", "/berth/web.default"});
  EXPECT_EQ(c["ociVersion"], "1.0.2");
  EXPECT_EQ(c["process"]["args"], json({"/bin/httpd", "-f"}));
  EXPECT_EQ(c["process"]["user"]["uid"], 1000);
  EXPECT_EQ(c["process"]["user"]["gid"], 100);
  EXPECT_EQ(c["process"]["cwd"], "/srv");
  EXPECT_EQ(c["process"]["terminal"], false);
  EXPECT_EQ(c["hostname"], "web") << "the id's first label";
  std::vector<std::string> env = c["process"]["env"];
  EXPECT_THAT(env, ::testing::Contains("A=1"));
  EXPECT_THAT(env, ::testing::Contains(::testing::StartsWith("PATH=")));
  EXPECT_EQ(c["root"]["path"], "/b/rootfs");
  EXPECT_EQ(c["annotations"]["k"], "v");
}

TEST(OciConfigTest, LimitsAndCgroup) {
  json c = BuildOciConfig(Spec(), {"/b/rootfs", "/berth/web.default"});
  EXPECT_EQ(c["linux"]["cgroupsPath"], "/berth/web.default");
  EXPECT_EQ(c["linux"]["resources"]["memory"]["limit"], 64 << 20);
  EXPECT_EQ(c["linux"]["resources"]["cpu"]["quota"], 150000);
  EXPECT_EQ(c["linux"]["resources"]["cpu"]["period"], 100000);
  EXPECT_EQ(c["linux"]["resources"]["pids"]["limit"], 20);
  ContainerSpec unlimited = Spec();
  unlimited.resources = {};
  json u = BuildOciConfig(unlimited, {"/r", "/c"});
  EXPECT_FALSE(u["linux"]["resources"].contains("memory"));
  EXPECT_FALSE(u["linux"]["resources"].contains("cpu"));
}

TEST(OciConfigTest, RlimitNeverAboveCallersHardLimit) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  json c = BuildOciConfig(Spec(), {"/r", "/c"});
  uint64_t hard = c["process"]["rlimits"][0]["hard"];
  if (rl.rlim_max != RLIM_INFINITY) {
    EXPECT_LE(hard, rl.rlim_max);
  }
}

TEST(OciConfigTest, Mounts) {
  json c = BuildOciConfig(Spec(), {"/r", "/c"});
  json data, scratch;
  for (const auto& m : c["mounts"]) {
    if (m["destination"] == "/data") data = m;
    if (m["destination"] == "/scratch") scratch = m;
  }
  EXPECT_EQ(data["type"], "bind");
  EXPECT_EQ(data["source"], "/host/data");
  EXPECT_THAT(data["options"].get<std::vector<std::string>>(), ::testing::Contains("ro"));
  EXPECT_EQ(scratch["type"], "tmpfs");
  EXPECT_THAT(scratch["options"].get<std::vector<std::string>>(),
              ::testing::Contains("size=1048576"));
}

TEST(OciConfigTest, Namespaces) {
  json c = BuildOciConfig(Spec(), {"/r", "/c"});
  for (const char* ns : {"pid", "network", "ipc", "uts", "mount"}) {
    EXPECT_TRUE(HasNamespace(c, ns)) << ns;
  }
  ContainerSpec host = Spec();
  host.host_network = true;
  host.host_pid = true;
  json h = BuildOciConfig(host, {"/r", "/c"});
  EXPECT_FALSE(HasNamespace(h, "pid"));
  EXPECT_FALSE(HasNamespace(h, "network"));
  EXPECT_FALSE(HasNamespace(h, "uts")) << "host network shares the host's name";
  EXPECT_FALSE(h.contains("hostname"));
}

TEST(OciConfigTest, NetworkNamespaceFileAndEtcFiles) {
  ContainerSpec spec = Spec();
  spec.mounts.push_back({MountSpec::Type::kBind, "/host/resolv", "/etc/resolv.conf", true, 0});
  BundleOptions options{"/r", "/c", "/run/berth/netns/web", "/state/web/etc"};
  json c = BuildOciConfig(spec, options);
  json netns;
  for (const auto& ns : c["linux"]["namespaces"]) {
    if (ns["type"] == "network") netns = ns;
  }
  EXPECT_EQ(netns["path"], "/run/berth/netns/web");
  std::map<std::string, std::string> sources;
  for (const auto& m : c["mounts"]) sources[m["destination"]] = m["source"];
  EXPECT_EQ(sources["/etc/hostname"], "/state/web/etc/hostname");
  EXPECT_EQ(sources["/etc/hosts"], "/state/web/etc/hosts");
  EXPECT_EQ(sources["/etc/resolv.conf"], "/host/resolv") << "the spec's own mount wins";

  // Without them: runc's new namespace, the image's files.
  json plain = BuildOciConfig(Spec(), {"/r", "/c"});
  for (const auto& ns : plain["linux"]["namespaces"]) EXPECT_FALSE(ns.contains("path"));
  for (const auto& m : plain["mounts"]) EXPECT_NE(m["destination"], "/etc/hosts");
}

}  // namespace
}  // namespace berth::runtime::oci
