// The NodeContainer resource (berth.dev/v1alpha1), as read from a manifests
// directory or from the Kubernetes API. One shape for both sources.
#ifndef BERTH_CONTROLLER_SPEC_NODE_CONTAINER_H_
#define BERTH_CONTROLLER_SPEC_NODE_CONTAINER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/image/pull_policy.h"

namespace berth::controller {

inline constexpr char kApiVersion[] = "berth.dev/v1alpha1";
inline constexpr char kKind[] = "NodeContainer";

struct ObjectMeta {
  std::string name;                    // DNS-1123 subdomain
  std::string namespace_ = "default";  // DNS-1123 label
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t generation = 0;               // 0 when the source gives none
  std::string uid;                      // API only
  std::string resource_version;         // API only
  std::string deletion_timestamp;       // API only; set: the object is being deleted
  std::vector<std::string> finalizers;  // API only
};

struct EnvVar {
  std::string name;
  std::string value;
};

struct Mount {
  std::string mount_path;                   // absolute, inside the container
  std::optional<std::string> host_path;     // hostPath.path
  std::optional<int64_t> tmpfs_size_bytes;  // tmpfs.sizeLimit; 0 = default
  bool read_only = false;
};

enum class RestartPolicy { kAlways, kOnFailure, kNever };

// Kubernetes' imagePullPolicy (runtime/image/pull_policy.h). Unset: Always for
// an image without a tag or digest or with the tag "latest", else
// IfNotPresent (EffectivePullPolicy).
using image::ImagePullPolicy;

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
  std::optional<uint32_t> run_as_user;  // user: 1000 or "1000:1000"
  std::optional<uint32_t> run_as_group;
  ResourceLimits limits;
  std::vector<Mount> mounts;
  RestartPolicy restart_policy = RestartPolicy::kAlways;
  int stop_signal = 15;  // stopSignal: SIGTERM, TERM or 15
  int64_t termination_grace_period_seconds = 30;
  std::string node_name;
  std::map<std::string, std::string> node_selector;
  bool host_network = false;
};

// An object's namespace and name, as the API addresses it.
struct NamespacedName {
  std::string namespace_;
  std::string name;
};

struct NodeContainer {
  ObjectMeta metadata;
  NodeContainerSpec spec;
  // Where it came from, for messages: "path/to/file.yaml:12" or "api".
  std::string source;
  // Which Source holds it ("manifests", "api"); set by MultiSource.
  std::string origin;
};

// The runtime container id of an object; every path, cgroup and runc call
// names the container by it. Two forms:
//
//   "<namespace>.<name>"  whenever that is a valid container id
//                         (runtime::ValidateContainerId: at most 128
//                         characters, each dot-separated part at most 63):
//                         the id every container had before long names
//                         were mapped, so existing containers keep theirs.
//   "<prefix>-<hash>"     otherwise (the API allows names of 253 characters
//                         with parts of any length): one DNS label of at
//                         most 63 characters and no dot. <hash> is the
//                         first 20 hex digits (80 bits) of the SHA-256 of
//                         "<namespace>/<name>"; <prefix>, for people, is
//                         "<namespace>-<name>" with every character
//                         other than [a-z0-9-] (the dots) made '-', cut to
//                         42 characters, without leading or trailing '-'.
//
// Unique: the first form is injective (a namespace holds no dot); the
// second never holds a dot, so it never equals one of the first; two of the
// second differ unless SHA-256 collides in 80 bits. Stable: a function of
// namespace and name only, the same in every release (ContainerIdFor's
// test pins a value). Always a valid container id, whatever the strings.
// The object's real namespace and name stay on the container
// (berth.dev/namespace, berth.dev/name annotations) and in its status:
// never split an id back into them.
std::string ContainerIdFor(const ObjectMeta& meta);

// Whether ContainerIdFor(meta) is the mapped ("<prefix>-<hash>") form.
bool IsMappedContainerId(const ObjectMeta& meta);

// For log lines that name a container by its id: "" when the id is
// "<namespace>.<name>", else " (NodeContainer <namespace>/<name>)".
std::string RealNameNote(const ObjectMeta& meta);

// The hostname of an object's container (when not on the host network):
// the first dot-separated part of its name, cut to 63 characters (a
// hostname label's limit) without trailing '-', as kubelet cuts a pod's.
std::string HostnameFor(const ObjectMeta& meta);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_NODE_CONTAINER_H_
