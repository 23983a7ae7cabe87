// berthd's configuration: what its flags say (flags.cc maps each flag to a
// field here, with these defaults) and what is resolved from them.
//
// ResolveConfig checks what can be checked without touching the node; its
// errors are usage errors (berthd exits 2). RootfsModeOf and
// ImageStoreOptionsOf are checked where berthd builds the runtime and the
// image store (it exits 1), after the state directory's lock is taken.
#ifndef BERTH_CONTROLLER_BERTHD_CONFIG_H_
#define BERTH_CONTROLLER_BERTHD_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/image/registry_image_store.h"
#include "runtime/runc_runtime.h"

namespace berth::berthd {

struct Config {
  // Directories.
  std::string manifests_dir = "/etc/berth/manifests";  // "": no manifests source
  // The longest a change in it waits (DirectoryWatcher's debounce).
  absl::Duration manifests_debounce = absl::Milliseconds(100);
  std::string state_dir = "/var/lib/berth";
  std::string run_dir = "/run/berth";
  std::string images_dir;  // resolved: <state_dir>/images when empty

  // Images.
  std::string registry_auth;  // a Docker config.json
  std::vector<std::string> insecure_registries;
  std::vector<std::string> registry_ca;  // host:port=/path/ca.pem
  int image_gc_high_threshold = 85;
  int image_gc_low_threshold = 80;
  absl::Duration image_gc_period = absl::Minutes(5);

  // The node and the cluster.
  std::string node_name;  // resolved: $NODE_NAME, else the host name, when empty
  std::string kubeconfig;
  std::string kube_context;
  bool in_cluster = false;
  std::string node_labels_flag;                    // k=v,k2=v2
  std::map<std::string, std::string> node_labels;  // resolved from node_labels_flag

  // The control loop.
  int workers = 1;  // flags.cc: the number of CPUs
  absl::Duration resync_period = absl::Seconds(60);
  absl::Duration relist_period = absl::Seconds(10);
  absl::Duration restart_backoff_initial = absl::Seconds(10);
  absl::Duration restart_backoff_max = absl::Minutes(5);

  // The runtime.
  std::string cgroup_parent = "/berth";
  std::string rootfs_mode = "overlay";
  std::string runc;     // "": found on PATH
  std::string monitor;  // "": beside berthd
  // CNI, for containers not on the host network (runtime/runc_runtime.h).
  std::string cni_bin_dir = "/usr/lib/cni";
  std::string cni_conf_dir = "/etc/cni/net.d";

  // The local API (controller/api): "" = <run_dir>/berth.sock.
  std::string api_socket;
  std::string api_group;        // the socket's group: may read ("" = root only)
  std::string api_admin_group;  // may change containers, as root ("" = root only)

  // The process.
  std::string log_level = "info";
  std::string log_format = "text";
  bool dry_run = false;
  bool stop_on_exit = false;
  // /metrics, /healthz and /readyz (host:port; port 0: any free one, logged);
  // "": no listener.
  std::string metrics_addr = "127.0.0.1:9321";

  // The API is a source (--kubeconfig or --in-cluster).
  bool cluster_mode() const { return !kubeconfig.empty() || in_cluster; }
  std::string containers_dir() const { return state_dir + "/containers"; }
  std::string status_dir() const { return state_dir + "/status"; }
  std::string api_socket_path() const {
    return api_socket.empty() ? run_dir + "/berth.sock" : api_socket;
  }
};

// Where a node name comes from when --node-name is empty; injected by tests.
struct NodeNameFallback {
  std::function<std::optional<std::string>()> env;  // $NODE_NAME
  std::function<std::string()> host_name;
};
NodeNameFallback SystemNodeNameFallback();

// Fills the resolved fields of `config` and checks it: positive durations,
// at least one worker, well-formed labels, a well-formed --metrics-addr,
// something to run, --dry-run with a manifests directory. kInvalidArgument with the message berthd
// logs.
absl::StatusOr<Config> ResolveConfig(Config config,
                                     const NodeNameFallback& fallback = SystemNodeNameFallback());

// "k=v,k2=v2" as a map; an empty key is an error.
absl::StatusOr<std::map<std::string, std::string>> ParseNodeLabels(const std::string& flag);

// --rootfs-mode, checked.
absl::StatusOr<runtime::RootfsMode> RootfsModeOf(const Config& config);

// The runtime's options: directories below --state-dir and --run-dir
// (network namespaces in <run-dir>/netns), the runc and monitor binaries,
// the cgroup parent, the rootfs mode and the CNI directories.
absl::StatusOr<runtime::RuncRuntimeOptions> RuntimeOptionsOf(const Config& config);

// The CNI network containers join: the first *.conflist in --cni-conf-dir
// in lexical order (as kubelet and containerd pick it); "" when none.
std::string CniNetworkFile(const Config& config);

// The image store's options: the GC thresholds (0 <= low <= high <= 100),
// the registry credentials (read from --registry-auth), insecure registries
// and CA files.
absl::StatusOr<image::RegistryImageStoreOptions> ImageStoreOptionsOf(const Config& config);

}  // namespace berth::berthd

#endif  // BERTH_CONTROLLER_BERTHD_CONFIG_H_
