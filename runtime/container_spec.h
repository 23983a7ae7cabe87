// What the runtime layer needs to create one container, and what it reports
// about one. How a spec is kept on disk is the state store's business
// (runtime/state_store.h), not part of this type.
#ifndef BERTH_RUNTIME_CONTAINER_SPEC_H_
#define BERTH_RUNTIME_CONTAINER_SPEC_H_

#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace berth::runtime {

struct MountSpec {
  enum class Type { kBind, kTmpfs };
  Type type = Type::kBind;
  std::string source;       // host path for kBind; unused for kTmpfs
  std::string destination;  // absolute path inside the container
  bool read_only = false;
  int64_t size_bytes = 0;  // kTmpfs only; 0 = kernel default
};

struct ResourceLimits {
  int64_t memory_bytes = 0;  // 0 = unlimited
  int64_t cpu_millis = 0;    // 1000 = one core; 0 = unlimited
  int64_t pids = 0;          // 0 = unlimited
};

// A port published on the node (CNI runtimeConfig portMappings).
struct PortMapping {
  int32_t host_port = 0;  // 0: not published (only declared)
  int32_t container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
  std::string host_ip;           // empty: every address
};

// One extra /etc/hosts line.
struct HostEntry {
  std::string ip;
  std::vector<std::string> hostnames;
};

// /etc/resolv.conf's content.
struct DnsSettings {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<std::string> options;  // "ndots:5", "edns0"
};

struct ContainerSpec {
  std::string id;  // DNS-1123 subdomain, at most 128 characters
  // Host directories stacked read-only below the container's own writable
  // layer, top-most first (overlay's lowerdir order); a plain directory
  // image is one layer. Each absolute, without ',' or ':' (overlay's option
  // separators).
  std::vector<std::string> rootfs_layers;
  std::vector<std::string> args;  // argv; args[0] is the program
  std::vector<std::string> env;   // KEY=VALUE
  std::string working_dir = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string hostname;  // defaults to the id's first label
  ResourceLimits resources;
  std::vector<MountSpec> mounts;
  int stop_signal = SIGTERM;
  bool host_network = false;
  bool host_pid = false;  // no PID namespace of its own
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // Networking, for a container not on the host network: its own network
  // namespace joined to the CNI network, these ports published, and
  // /etc/hostname, /etc/hosts and /etc/resolv.conf written for it.
  std::vector<PortMapping> ports;
  std::vector<HostEntry> host_aliases;
  std::optional<DnsSettings> dns;  // unset: the node's /etc/resolv.conf
  // The caller's CNI_ARGS for the plugins, after IgnoreUnknown=1 and before
  // K8S_POD_INFRA_CONTAINER_ID=<id> (network::MakeAttachment), e.g.
  // K8S_POD_NAMESPACE and K8S_POD_NAME as kubelet passes them. Keys are
  // non-empty, without '=' or ';'; values without ';'.
  std::vector<std::pair<std::string, std::string>> cni_args;
  int64_t log_max_bytes = 10 << 20;  // per log file, before rotation
  int log_max_files = 2;             // container.log plus rotated ones
};

// Checks everything that does not need the file system: id, args, paths,
// signals, limits. Called by Create before anything touches a path.
absl::Status ValidateContainerSpec(const ContainerSpec& spec);

// podman's states; kStopped covers "exited".
enum class ContainerState { kCreated, kRunning, kPaused, kStopped, kUnknown };
const char* ContainerStateName(ContainerState state);

struct ContainerStatus {
  std::string id;
  ContainerState state = ContainerState::kUnknown;
  int pid = 0;  // 0 when not running
  absl::Time created_at = absl::InfinitePast();
  absl::Time started_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  std::optional<int> exit_code;  // set once stopped with a known code
  bool oom_killed = false;
  std::string reason;  // Completed, Error, OOMKilled, or why state is unknown
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string log_path;
  std::string ip;  // the container's address on the CNI network; empty: none
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_CONTAINER_SPEC_H_
