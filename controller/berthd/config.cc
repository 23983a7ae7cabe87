#include "controller/berthd/config.h"

#include "controller/api/peer_auth.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/metrics/http_server.h"
#include "runtime/image/auth_config.h"

namespace berth::berthd {

NodeNameFallback SystemNodeNameFallback() {
  NodeNameFallback f;
  f.env = []() -> std::optional<std::string> {
    const char* v = getenv("NODE_NAME");
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  f.host_name = [] {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return std::string(host);
  };
  return f;
}

absl::StatusOr<std::map<std::string, std::string>> ParseNodeLabels(const std::string& flag) {
  std::map<std::string, std::string> out;
  for (absl::string_view kv : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--node_labels: bad pair \"", kv, "\""));
    }
    out[p.first] = p.second;
  }
  return out;
}

absl::StatusOr<Config> ResolveConfig(Config c, const NodeNameFallback& fallback) {
  if (c.images_dir.empty()) c.images_dir = c.state_dir + "/images";
  if (c.node_name.empty() && fallback.env) c.node_name = fallback.env().value_or("");
  if (c.node_name.empty() && fallback.host_name) c.node_name = fallback.host_name();
  for (const auto& [name, value] :
       {std::pair{"--resync_period", c.resync_period},
        std::pair{"--relist_period", c.relist_period},
        std::pair{"--restart_backoff_initial", c.restart_backoff_initial},
        std::pair{"--restart_backoff_max", c.restart_backoff_max},
        std::pair{"--image_gc_period", c.image_gc_period}}) {
    if (value <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be positive, not ", absl::FormatDuration(value)));
    }
  }
  if (c.manifests_debounce < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--manifests_debounce must not be negative, not ",
                     absl::FormatDuration(c.manifests_debounce)));
  }
  if (c.workers < 1) return absl::InvalidArgumentError("--workers must be at least 1");
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseNodeLabels(c.node_labels_flag);
  if (!labels.ok()) return labels.status();
  c.node_labels = *std::move(labels);
  if (c.manifests_dir.empty() && !c.cluster_mode()) {
    return absl::InvalidArgumentError(
        "nothing to run: --manifests-dir is empty and no --kubeconfig or --in-cluster");
  }
  if (!c.metrics_addr.empty()) {
    if (absl::Status s = metrics::ValidateListenAddress(c.metrics_addr); !s.ok()) return s;
  }
  if (c.dry_run && c.manifests_dir.empty()) {
    return absl::InvalidArgumentError("--dry-run plans the manifests directory only");
  }
  // sockaddr_un's sun_path holds 107 bytes and a NUL.
  if (c.api_socket_path().size() > 107) {
    return absl::InvalidArgumentError(absl::StrCat("--api_socket: \"", c.api_socket_path(),
                                                   "\" is longer than a unix socket path "
                                                   "may be (107 bytes)"));
  }
  for (const auto& [flag, group] :
       {std::pair{"--api_group", c.api_group}, std::pair{"--api_admin_group", c.api_admin_group}}) {
    if (absl::StatusOr<gid_t> gid = api::ResolveGroup(group); !gid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", gid.status().message()));
    }
  }
  return c;
}

absl::StatusOr<runtime::RootfsMode> RootfsModeOf(const Config& config) {
  absl::StatusOr<runtime::RootfsMode> mode = runtime::ParseRootfsMode(config.rootfs_mode);
  if (!mode.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--rootfs_mode: ", mode.status().message()));
  }
  return mode;
}

absl::StatusOr<runtime::RuncRuntimeOptions> RuntimeOptionsOf(const Config& config) {
  absl::StatusOr<runtime::RootfsMode> rootfs_mode = RootfsModeOf(config);
  if (!rootfs_mode.ok()) return rootfs_mode.status();
  runtime::RuncRuntimeOptions o;
  o.state_dir = config.containers_dir();
  o.runc_root = config.run_dir + "/runc";
  o.runc_binary = config.runc;
  o.monitor_binary = config.monitor;
  o.cgroup_parent = config.cgroup_parent;
  o.rootfs_mode = *rootfs_mode;
  o.cni_bin_dir = config.cni_bin_dir;
  o.cni_conf_dir = config.cni_conf_dir;
  o.netns_dir = config.run_dir + "/netns";
  return o;
}

std::string CniNetworkFile(const Config& config) {
  std::vector<std::string> names;
  if (DIR* d = opendir(config.cni_conf_dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      if (absl::EndsWith(e->d_name, ".conflist")) names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  if (names.empty()) return "";
  return absl::StrCat(config.cni_conf_dir, "/", *std::min_element(names.begin(), names.end()));
}

absl::StatusOr<image::RegistryImageStoreOptions> ImageStoreOptionsOf(const Config& config) {
  image::RegistryImageStoreOptions o;
  o.root = config.images_dir;
  o.gc_high_percent = config.image_gc_high_threshold;
  o.gc_low_percent = config.image_gc_low_threshold;
  if (o.gc_low_percent < 0 || o.gc_low_percent > o.gc_high_percent || o.gc_high_percent > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--image-gc-low-threshold=", o.gc_low_percent,
        " and --image-gc-high-threshold=", o.gc_high_percent, ": want 0 <= low <= high <= 100"));
  }
  if (!config.registry_auth.empty()) {
    absl::StatusOr<image::DockerAuthConfig> auth =
        image::DockerAuthConfig::Load(config.registry_auth);
    if (!auth.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--registry_auth: ", auth.status().message()));
    }
    o.registry.auth = *std::move(auth);
  }
  for (const std::string& r : config.insecure_registries) {
    if (!r.empty()) o.registry.insecure_registries.insert(r);
  }
  for (const std::string& kv : config.registry_ca) {
    if (kv.empty()) continue;
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first.empty() || p.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--registry_ca: expected host:port=/path, got \"", kv, "\""));
    }
    o.registry.ca_files[p.first] = p.second;
  }
  return o;
}

}  // namespace berth::berthd
