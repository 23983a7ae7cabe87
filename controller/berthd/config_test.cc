#include "controller/berthd/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "controller/berthd/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::berthd {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

NodeNameFallback Fallback(std::optional<std::string> env, std::string host) {
  NodeNameFallback f;
  f.env = [env] { return env; };
  f.host_name = [host] { return host; };
  return f;
}

std::string ErrorOf(const Config& c) {
  absl::StatusOr<Config> r = ResolveConfig(c, Fallback(std::nullopt, "host"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST(ConfigTest, TheFlagsDefaultsAreConfigsDefaults) {
  std::string name = "berthd";
  char* argv[] = {name.data()};
  std::optional<Config> flags = ConfigFromCommandLine(1, argv);
  ASSERT_TRUE(flags.has_value());
  const Config defaults;
  EXPECT_EQ(flags->manifests_dir, defaults.manifests_dir);
  EXPECT_EQ(flags->manifests_debounce, defaults.manifests_debounce);
  EXPECT_EQ(flags->state_dir, defaults.state_dir);
  EXPECT_EQ(flags->run_dir, defaults.run_dir);
  EXPECT_EQ(flags->images_dir, defaults.state_dir + "/images");
  EXPECT_EQ(flags->image_gc_high_threshold, defaults.image_gc_high_threshold);
  EXPECT_EQ(flags->image_gc_low_threshold, defaults.image_gc_low_threshold);
  EXPECT_EQ(flags->image_gc_period, defaults.image_gc_period);
  EXPECT_EQ(flags->resync_period, defaults.resync_period);
  EXPECT_EQ(flags->relist_period, defaults.relist_period);
  EXPECT_EQ(flags->restart_backoff_initial, defaults.restart_backoff_initial);
  EXPECT_EQ(flags->restart_backoff_max, defaults.restart_backoff_max);
  EXPECT_EQ(flags->cgroup_parent, defaults.cgroup_parent);
  EXPECT_EQ(flags->rootfs_mode, defaults.rootfs_mode);
  EXPECT_EQ(flags->log_level, defaults.log_level);
  EXPECT_EQ(flags->log_format, defaults.log_format);
  EXPECT_GE(flags->workers, 1);
  EXPECT_FALSE(flags->node_name.empty());
  EXPECT_FALSE(flags->cluster_mode());
  EXPECT_FALSE(flags->dry_run);
  EXPECT_FALSE(flags->stop_on_exit);
  EXPECT_EQ(flags->metrics_addr, defaults.metrics_addr);
  EXPECT_EQ(defaults.metrics_addr, "127.0.0.1:9321");
  EXPECT_EQ(flags->cni_bin_dir, "/usr/lib/cni");
  EXPECT_EQ(flags->cni_conf_dir, "/etc/cni/net.d");
  EXPECT_EQ(defaults.cni_bin_dir, flags->cni_bin_dir);
  EXPECT_EQ(defaults.cni_conf_dir, flags->cni_conf_dir);
}

TEST(ConfigTest, MetricsAddress) {
  Config c;
  for (const char* ok :
       {"", "127.0.0.1:9321", "127.0.0.1:0", "0.0.0.0:9321", ":9321", "[::1]:9321"}) {
    c.metrics_addr = ok;
    EXPECT_TRUE(ResolveConfig(c, Fallback(std::nullopt, "host")).ok()) << ok;
  }
  c.metrics_addr = "localhost:9321";
  EXPECT_THAT(ErrorOf(c), HasSubstr("--metrics-addr \"localhost:9321\": the host is not an IP"));
  c.metrics_addr = "127.0.0.1";
  EXPECT_THAT(ErrorOf(c), HasSubstr("no port"));
  c.metrics_addr = "127.0.0.1:99999";
  EXPECT_THAT(ErrorOf(c), HasSubstr("the port is not a number from 0 to 65535"));
}

TEST(ConfigTest, NodeNameFromTheFlagThenNodeNameThenTheHostName) {
  Config c;
  c.node_name = "flag";
  EXPECT_EQ(ResolveConfig(c, Fallback("env", "host"))->node_name, "flag");
  c.node_name.clear();
  EXPECT_EQ(ResolveConfig(c, Fallback("env", "host"))->node_name, "env");
  EXPECT_EQ(ResolveConfig(c, Fallback("", "host"))->node_name, "host");
  EXPECT_EQ(ResolveConfig(c, Fallback(std::nullopt, "host"))->node_name, "host");
}

TEST(ConfigTest, ImagesDirDefaultsBelowTheStateDir) {
  Config c;
  c.state_dir = "/srv/berth";
  EXPECT_EQ(ResolveConfig(c, Fallback(std::nullopt, "h"))->images_dir, "/srv/berth/images");
  c.images_dir = "/images";
  EXPECT_EQ(ResolveConfig(c, Fallback(std::nullopt, "h"))->images_dir, "/images");
  EXPECT_EQ(c.containers_dir(), "/srv/berth/containers");
  EXPECT_EQ(c.status_dir(), "/srv/berth/status");
}

TEST(ConfigTest, DurationsMustBePositive) {
  Config c;
  c.resync_period = absl::ZeroDuration();
  EXPECT_EQ(ErrorOf(c), "--resync_period must be positive, not 0");
  c = Config();
  c.relist_period = absl::Seconds(-1);
  EXPECT_EQ(ErrorOf(c), "--relist_period must be positive, not -1s");
  c = Config();
  c.restart_backoff_initial = absl::ZeroDuration();
  EXPECT_EQ(ErrorOf(c), "--restart_backoff_initial must be positive, not 0");
  c = Config();
  c.restart_backoff_max = absl::ZeroDuration();
  EXPECT_EQ(ErrorOf(c), "--restart_backoff_max must be positive, not 0");
  c = Config();
  c.image_gc_period = absl::ZeroDuration();
  EXPECT_EQ(ErrorOf(c), "--image_gc_period must be positive, not 0");
  c = Config();
  c.manifests_debounce = absl::ZeroDuration();  // every change at once
  EXPECT_TRUE(ResolveConfig(c, Fallback(std::nullopt, "host")).ok());
  c.manifests_debounce = absl::Milliseconds(-1);
  EXPECT_EQ(ErrorOf(c), "--manifests_debounce must not be negative, not -1ms");
}

TEST(ConfigTest, WorkersLabelsAndSomethingToRun) {
  Config c;
  c.workers = 0;
  EXPECT_EQ(ErrorOf(c), "--workers must be at least 1");
  c = Config();
  c.node_labels_flag = "disk=ssd,=x";
  EXPECT_EQ(ErrorOf(c), "--node_labels: bad pair \"=x\"");
  c = Config();
  c.node_labels_flag = "disk=ssd,,zone=a=b,bare";
  absl::StatusOr<Config> ok = ResolveConfig(c, Fallback(std::nullopt, "h"));
  ASSERT_TRUE(ok.ok());
  EXPECT_THAT(ok->node_labels,
              UnorderedElementsAre(Pair("disk", "ssd"), Pair("zone", "a=b"), Pair("bare", "")));
  c = Config();
  c.manifests_dir.clear();
  EXPECT_EQ(ErrorOf(c),
            "nothing to run: --manifests-dir is empty and no --kubeconfig or --in-cluster");
  c.in_cluster = true;
  EXPECT_TRUE(ResolveConfig(c, Fallback(std::nullopt, "h")).ok());
  c.dry_run = true;
  EXPECT_EQ(ErrorOf(c), "--dry-run plans the manifests directory only");
  c = Config();
  c.manifests_dir.clear();
  c.kubeconfig = "/etc/kubeconfig";
  EXPECT_TRUE(c.cluster_mode());
  EXPECT_TRUE(ResolveConfig(c, Fallback(std::nullopt, "h")).ok());
}

TEST(ConfigTest, RootfsMode) {
  Config c;
  EXPECT_EQ(*RootfsModeOf(c), runtime::RootfsMode::kOverlay);
  c.rootfs_mode = "copy";
  EXPECT_EQ(*RootfsModeOf(c), runtime::RootfsMode::kCopy);
  c.rootfs_mode = "squashfs";
  absl::StatusOr<runtime::RootfsMode> bad = RootfsModeOf(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--rootfs_mode: "));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("rootfs mode \"squashfs\""));
}

TEST(ConfigTest, ImageStoreOptions) {
  Config c;
  c.images_dir = "/images";
  c.insecure_registries = {"127.0.0.1:5000", ""};
  c.registry_ca = {"", "registry:443=/etc/ca.pem"};
  absl::StatusOr<image::RegistryImageStoreOptions> o = ImageStoreOptionsOf(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->root, "/images");
  EXPECT_EQ(o->gc_high_percent, 85);
  EXPECT_EQ(o->gc_low_percent, 80);
  EXPECT_EQ(o->registry.insecure_registries, std::set<std::string>{"127.0.0.1:5000"});
  EXPECT_EQ(o->registry.ca_files.at("registry:443"), "/etc/ca.pem");

  c.image_gc_high_threshold = 70;
  c.image_gc_low_threshold = 75;
  EXPECT_EQ(ImageStoreOptionsOf(c).status().message(),
            "--image-gc-low-threshold=75 and --image-gc-high-threshold=70: "
            "want 0 <= low <= high <= 100");
  c = Config();
  c.image_gc_high_threshold = 101;
  EXPECT_FALSE(ImageStoreOptionsOf(c).ok());
  c = Config();
  c.image_gc_low_threshold = -1;
  EXPECT_FALSE(ImageStoreOptionsOf(c).ok());
  c = Config();
  c.registry_ca = {"registry:443"};
  EXPECT_EQ(ImageStoreOptionsOf(c).status().message(),
            "--registry_ca: expected host:port=/path, got \"registry:443\"");
  c = Config();
  char path[] = "/tmp/berthd-config-test.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "{not json", 9), 9);
  close(fd);
  c.registry_auth = path;
  absl::StatusOr<image::RegistryImageStoreOptions> auth = ImageStoreOptionsOf(c);
  unlink(path);
  ASSERT_FALSE(auth.ok());
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(auth.status().message()), HasSubstr("--registry_auth: "));
}

}  // namespace
}  // namespace berth::berthd

namespace berth::berthd {
namespace {

TEST(ConfigTest, TheApiSocketIsInTheRunDirUnlessGiven) {
  Config c;
  c.run_dir = "/tmp/r";
  EXPECT_EQ(c.api_socket_path(), "/tmp/r/berth.sock");
  c.api_socket = "/tmp/x.sock";
  EXPECT_EQ(c.api_socket_path(), "/tmp/x.sock");
  c.api_socket = "/" + std::string(120, 'a');
  EXPECT_THAT(ErrorOf(c), HasSubstr("longer than a unix socket path may be"));
}

TEST(ConfigTest, ApiGroupsMustExist) {
  Config c;
  c.api_group = "root";
  c.api_admin_group = "4242";
  EXPECT_TRUE(ResolveConfig(c, Fallback(std::nullopt, "host")).ok());
  c.api_admin_group = "no-such-group-here";
  EXPECT_THAT(ErrorOf(c), HasSubstr("--api_admin_group: no group named no-such-group-here"));
}

TEST(ConfigTest, RuntimeOptions) {
  Config c;
  c.state_dir = "/var/lib/b";
  c.run_dir = "/run/b";
  c.cni_bin_dir = "/opt/cni/bin:/usr/lib/cni";
  c.cni_conf_dir = "/etc/b/net.d";
  c.rootfs_mode = "copy";
  absl::StatusOr<runtime::RuncRuntimeOptions> o = RuntimeOptionsOf(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->state_dir, "/var/lib/b/containers");
  EXPECT_EQ(o->runc_root, "/run/b/runc");
  EXPECT_EQ(o->netns_dir, "/run/b/netns");
  EXPECT_EQ(o->cni_bin_dir, "/opt/cni/bin:/usr/lib/cni");
  EXPECT_EQ(o->cni_conf_dir, "/etc/b/net.d");
  EXPECT_EQ(o->rootfs_mode, runtime::RootfsMode::kCopy);
  c.rootfs_mode = "zfs";
  EXPECT_FALSE(RuntimeOptionsOf(c).ok());
}

// The first *.conflist in lexical order, as kubelet and containerd pick it.
TEST(ConfigTest, CniNetworkFile) {
  char dir[] = "/tmp/berth-cni-conf-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  Config c;
  c.cni_conf_dir = dir;
  EXPECT_EQ(CniNetworkFile(c), "");
  auto touch = [&](const std::string& name) {
    FILE* f = fopen((std::string(dir) + "/" + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
  };
  touch("05-old.conf");  // single-plugin configs are not read
  touch("99-last.conflist");
  EXPECT_EQ(CniNetworkFile(c), std::string(dir) + "/99-last.conflist");
  touch("10-berth.conflist");
  EXPECT_EQ(CniNetworkFile(c), std::string(dir) + "/10-berth.conflist");
  for (const char* name : {"05-old.conf", "99-last.conflist", "10-berth.conflist"}) {
    unlink((std::string(dir) + "/" + name).c_str());
  }
  rmdir(dir);
  c.cni_conf_dir = "/nonexistent/net.d";
  EXPECT_EQ(CniNetworkFile(c), "");
}

}  // namespace
}  // namespace berth::berthd
