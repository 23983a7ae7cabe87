// The NodeContainer resource (berth.dev/v1alpha1), as read from a manifests
// directory or from the Kubernetes API. One shape for both sources.
#ifndef BERTH_CONTROLLER_NODE_CONTAINER_H_
#define BERTH_CONTROLLER_NODE_CONTAINER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::controller {

inline constexpr char kApiVersion[] = "berth.dev/v1alpha1";
inline constexpr char kKind[] = "NodeContainer";

struct ObjectMeta {
  std::string name;                  // DNS-1123 subdomain
  std::string namespace_ = "default";  // DNS-1123 label
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t generation = 0;            // 0 when the source gives none
  std::string uid;                   // API only
  std::string resource_version;      // API only
  std::string deletion_timestamp;    // API only; set: the object is being deleted
  std::vector<std::string> finalizers;  // API only
};

struct EnvVar {
  std::string name;
  std::string value;
};

struct Mount {
  std::string mount_path;  // absolute, inside the container
  std::optional<std::string> host_path;   // hostPath.path
  std::optional<int64_t> tmpfs_size_bytes;  // tmpfs.sizeLimit; 0 = default
  bool read_only = false;
};

enum class RestartPolicy { kAlways, kOnFailure, kNever };

// Kubernetes' imagePullPolicy. Unset: Always for an image without a tag or
// digest or with the tag "latest", else IfNotPresent (EffectivePullPolicy).
enum class ImagePullPolicy { kAlways, kIfNotPresent, kNever };

struct ResourceLimits {
  int64_t cpu_millis = 0;    // resources.limits.cpu ("500m", "1.5", 2)
  int64_t memory_bytes = 0;  // resources.limits.memory ("64Mi", "1G", 1024)
  int64_t pids = 0;          // resources.limits.pids
};

struct NodeContainerSpec {
  std::string image;
  std::optional<ImagePullPolicy> image_pull_policy;
  std::vector<std::string> image_pull_secrets;  // names of Secrets (cluster mode)
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::string working_dir;
  std::optional<uint32_t> run_as_user;   // user: 1000 or "1000:1000"
  std::optional<uint32_t> run_as_group;
  ResourceLimits limits;
  std::vector<Mount> mounts;
  RestartPolicy restart_policy = RestartPolicy::kAlways;
  int stop_signal = 15;                       // stopSignal: SIGTERM, TERM or 15
  int64_t termination_grace_period_seconds = 30;
  std::string node_name;
  std::map<std::string, std::string> node_selector;
  bool host_network = false;
};

struct NodeContainer {
  ObjectMeta metadata;
  NodeContainerSpec spec;
  // Where it came from, for messages: "path/to/file.yaml:12" or "api".
  std::string source;
  // Which Source holds it ("manifests", "api"); set by MultiSource.
  std::string origin;
};

// The runtime container id of an object: "<namespace>.<name>". Unique,
// because a namespace is a DNS label and so holds no dot.
inline std::string ContainerIdFor(const ObjectMeta& meta) {
  return meta.namespace_ + "." + meta.name;
}

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_NODE_CONTAINER_H_
