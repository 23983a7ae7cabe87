#include "controller/berthd/flags.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "controller/api/version.h"
#include "controller/berthd/logging.h"
#include "spdlog/spdlog.h"

// The defaults are Config's (config_test checks that they agree); they are
// written out here for --help and for the chart's test, which reads them.
ABSL_FLAG(std::string, manifests_dir, "/etc/berth/manifests",
          "Directory of NodeContainer YAML files to keep running");
ABSL_FLAG(absl::Duration, manifests_debounce, absl::Milliseconds(100),
          "Longest wait before a change in --manifests-dir is read: a completed write, a "
          "rename into place or a removal is read once the directory has been quiet for a "
          "twentieth of it (5 ms); a file still being written is waited for up to this long");
ABSL_FLAG(std::string, state_dir, "/var/lib/berth",
          "Berth's state: containers, status files, the lock");
ABSL_FLAG(std::string, run_dir, "/run/berth", "Runtime state that ends with the boot (runc's)");
ABSL_FLAG(std::string, images_dir, "",
          "Image store: pulled images, their layers, and directory images <name>/<tag>/rootfs "
          "(default: <state_dir>/images)");
ABSL_FLAG(std::string, registry_auth, "",
          "Registry credentials, a Docker config.json (\"auths\"); default: none");
ABSL_FLAG(std::vector<std::string>, insecure_registries, {},
          "Registries (host:port) spoken to over plain HTTP, comma separated");
ABSL_FLAG(std::vector<std::string>, registry_ca, {},
          "Extra CA files for registries' HTTPS: host:port=/path/ca.pem, comma separated");
ABSL_FLAG(int, image_gc_high_threshold, 85,
          "Disk usage (percent) of the image store's file system at which unused images are "
          "removed, least recently used first");
ABSL_FLAG(int, image_gc_low_threshold, 80,
          "Disk usage (percent) image GC frees down to (at most the high threshold)");
ABSL_FLAG(absl::Duration, image_gc_period, absl::Minutes(5), "How often image GC looks");
ABSL_FLAG(std::string, node_name, "", "This node's name (default: $NODE_NAME, else the host name)");
ABSL_FLAG(std::string, kubeconfig, "",
          "Cluster mode: run the NodeContainers of the Kubernetes API that this kubeconfig "
          "reaches (its current context)");
ABSL_FLAG(std::string, kube_context, "",
          "The kubeconfig context to use instead of the current one");
ABSL_FLAG(bool, in_cluster, false,
          "Cluster mode with the pod's service account (KUBERNETES_SERVICE_HOST, the token "
          "and CA under /var/run/secrets/kubernetes.io/serviceaccount)");
ABSL_FLAG(std::string, node_labels, "", "This node's labels for nodeSelector: k=v,k2=v2");
ABSL_FLAG(int, workers, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
          "Containers reconciled in parallel");
ABSL_FLAG(absl::Duration, resync_period, absl::Seconds(60),
          "Full resync: re-read the manifests and reconcile everything");
ABSL_FLAG(absl::Duration, relist_period, absl::Seconds(10),
          "How often the node's containers are listed to notice what no event reports (exits "
          "are noticed as they happen)");
ABSL_FLAG(absl::Duration, restart_backoff_initial, absl::Seconds(10),
          "CrashLoopBackOff delay before the second restart (a first exit is restarted at "
          "once, as kubelet does; the delay doubles per restart)");
ABSL_FLAG(absl::Duration, restart_backoff_max, absl::Minutes(5), "Largest CrashLoopBackOff delay");
ABSL_FLAG(std::string, cgroup_parent, "/berth", "cgroup under which containers are placed");
ABSL_FLAG(std::string, rootfs_mode, "overlay",
          "How container root file systems are built from image layers: overlay, or copy "
          "(a private copy per container, for hosts without overlayfs; overlay falls back to "
          "copy by itself when a probe mount fails)");
ABSL_FLAG(std::string, runc, "", "runc binary (default: found on PATH)");
ABSL_FLAG(std::string, monitor, "", "berth-monitor binary (default: beside berthd)");
ABSL_FLAG(std::string, cni_bin_dir, "/usr/lib/cni",
          "CNI plugins (bridge, host-local, portmap, loopback, ...); ':'-separated directories");
ABSL_FLAG(std::string, cni_conf_dir, "/etc/cni/net.d",
          "CNI network configuration: containers not on the host network join the network of "
          "the first *.conflist here in lexical order; none: they get loopback only");
ABSL_FLAG(std::string, api_socket, "",
          "The local API's unix socket, for berthctl (default: <run-dir>/berth.sock, "
          "that is /run/berth/berth.sock)");
ABSL_FLAG(std::string, api_group, "",
          "Group (name or gid) of the API socket: its members may read (default: root only)");
ABSL_FLAG(std::string, api_admin_group, "",
          "Group whose members may also exec, restart, apply and delete through the API, as "
          "root may (they need the socket's group too)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "text", "text or json");
ABSL_FLAG(bool, dry_run, false, "Print what would be done and exit without doing it");
ABSL_FLAG(bool, stop_on_exit, false,
          "On SIGTERM stop every container (each with its grace period, in parallel); "
          "by default they keep running");

ABSL_FLAG(std::string, metrics_addr, "127.0.0.1:9321",
          "Where /metrics (Prometheus), /healthz and /readyz are served: host:port (port 0: any "
          "free port, logged); empty: not served");

namespace berth::berthd {
namespace {

// absl flags use '_'; accept the '-' spelling too (--dry-run).
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>* storage) {
  storage->reserve(argc);
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && a.size() > 2 && a.rfind("--", 0) == 0) {
      size_t end = std::min(a.find('='), a.size());
      for (size_t k = 2; k < end; ++k) {
        if (a[k] == '-') a[k] = '_';
      }
    }
    storage->push_back(std::move(a));
    out.push_back(storage->back().data());
  }
  return out;
}

Config FromFlags() {
  Config c;
  c.manifests_dir = absl::GetFlag(FLAGS_manifests_dir);
  c.manifests_debounce = absl::GetFlag(FLAGS_manifests_debounce);
  c.state_dir = absl::GetFlag(FLAGS_state_dir);
  c.run_dir = absl::GetFlag(FLAGS_run_dir);
  c.images_dir = absl::GetFlag(FLAGS_images_dir);
  c.registry_auth = absl::GetFlag(FLAGS_registry_auth);
  c.insecure_registries = absl::GetFlag(FLAGS_insecure_registries);
  c.registry_ca = absl::GetFlag(FLAGS_registry_ca);
  c.image_gc_high_threshold = absl::GetFlag(FLAGS_image_gc_high_threshold);
  c.image_gc_low_threshold = absl::GetFlag(FLAGS_image_gc_low_threshold);
  c.image_gc_period = absl::GetFlag(FLAGS_image_gc_period);
  c.node_name = absl::GetFlag(FLAGS_node_name);
  c.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  c.kube_context = absl::GetFlag(FLAGS_kube_context);
  c.in_cluster = absl::GetFlag(FLAGS_in_cluster);
  c.node_labels_flag = absl::GetFlag(FLAGS_node_labels);
  c.workers = absl::GetFlag(FLAGS_workers);
  c.resync_period = absl::GetFlag(FLAGS_resync_period);
  c.relist_period = absl::GetFlag(FLAGS_relist_period);
  c.restart_backoff_initial = absl::GetFlag(FLAGS_restart_backoff_initial);
  c.restart_backoff_max = absl::GetFlag(FLAGS_restart_backoff_max);
  c.cgroup_parent = absl::GetFlag(FLAGS_cgroup_parent);
  c.rootfs_mode = absl::GetFlag(FLAGS_rootfs_mode);
  c.runc = absl::GetFlag(FLAGS_runc);
  c.monitor = absl::GetFlag(FLAGS_monitor);
  c.cni_bin_dir = absl::GetFlag(FLAGS_cni_bin_dir);
  c.cni_conf_dir = absl::GetFlag(FLAGS_cni_conf_dir);
  c.log_level = absl::GetFlag(FLAGS_log_level);
  c.log_format = absl::GetFlag(FLAGS_log_format);
  c.dry_run = absl::GetFlag(FLAGS_dry_run);
  c.stop_on_exit = absl::GetFlag(FLAGS_stop_on_exit);
  c.api_socket = absl::GetFlag(FLAGS_api_socket);
  c.api_group = absl::GetFlag(FLAGS_api_group);
  c.api_admin_group = absl::GetFlag(FLAGS_api_admin_group);
  c.metrics_addr = absl::GetFlag(FLAGS_metrics_addr);
  return c;
}

}  // namespace

std::optional<Config> ConfigFromCommandLine(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "berthd: keeps the NodeContainers in a directory running on this node");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] {
    return absl::StrCat("berthd ", api::kBerthVersion, " (commit ", api::kBerthGitCommit, ")\n");
  };
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlagNames(argc, argv, &storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  Config flags = FromFlags();
  if (absl::Status s = controller::SetUpLogging(flags.log_level, flags.log_format); !s.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(s.message()).c_str());
    return std::nullopt;
  }
  absl::StatusOr<Config> config = ResolveConfig(std::move(flags));
  if (!config.ok()) {
    spdlog::error("{}", std::string(config.status().message()));
    return std::nullopt;
  }
  return *std::move(config);
}

}  // namespace berth::berthd
