// The NodeContainer resource (berth.dev/v1alpha1), as read from a manifests
// directory or from the Kubernetes API. One shape for both sources.
#ifndef BERTH_CONTROLLER_SPEC_NODE_CONTAINER_H_
#define BERTH_CONTROLLER_SPEC_NODE_CONTAINER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/spec/heap_optional.h"
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

// ---- Networking (spec.ports, hostname, dnsPolicy, dnsConfig, hostAliases),
// as in a Pod's container and PodSpec.

enum class Protocol { kTcp, kUdp };

// spec.ports[]: a port the container listens on; published on the node
// when host_port is set (CNI portmap).
struct ContainerPort {
  std::string name;            // IANA_SVC_NAME; empty: none
  int32_t container_port = 0;  // 1-65535
  int32_t host_port = 0;       // 0: not published; else 1-65535
  std::string host_ip;         // empty: every address of the node
  Protocol protocol = Protocol::kTcp;
};

// dnsPolicy: Default = the node's resolv.conf; None = dnsConfig alone.
enum class DnsPolicy { kDefault, kNone };

struct DnsOption {
  std::string name;
  std::optional<std::string> value;
};

struct DnsConfig {
  std::vector<std::string> nameservers;  // IP addresses
  std::vector<std::string> searches;
  std::vector<DnsOption> options;
};

// hostAliases[]: extra /etc/hosts lines.
struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;
};

// ---- Probes and lifecycle hooks (Kubernetes' Probe and LifecycleHandler).

// A port by number or by the name of a spec.ports entry.
struct PortRef {
  int32_t number = 0;  // set when given as a number
  std::string name;    // set when given as a name
};

struct ExecAction {
  std::vector<std::string> command;  // run inside the container, not a shell
};

struct HttpHeader {
  std::string name;
  std::string value;
};

enum class HttpScheme { kHttp, kHttps };

struct HttpGetAction {
  std::string path = "/";
  PortRef port;
  std::string host;  // empty: the container's address
  HttpScheme scheme = HttpScheme::kHttp;
  std::vector<HttpHeader> headers;
};

struct TcpSocketAction {
  PortRef port;
  std::string host;  // empty: the container's address
};

struct GrpcAction {
  int32_t port = 0;
  std::string service;  // grpc.health.v1 HealthCheckRequest.service
};

struct SleepAction {
  int64_t seconds = 0;
};

// Exactly one member is set.
struct Handler {
  std::optional<ExecAction> exec;
  std::optional<HttpGetAction> http_get;
  std::optional<TcpSocketAction> tcp_socket;
  std::optional<GrpcAction> grpc;    // probes only
  std::optional<SleepAction> sleep;  // hooks only
};

struct Probe {
  Handler handler;
  int64_t initial_delay_seconds = 0;
  int64_t period_seconds = 10;
  int64_t timeout_seconds = 1;
  int64_t success_threshold = 1;  // must be 1 for liveness and startup
  int64_t failure_threshold = 3;
  // Replaces the spec's terminationGracePeriodSeconds when this probe
  // kills the container (liveness and startup only).
  std::optional<int64_t> termination_grace_period_seconds;
};

struct Lifecycle {
  HeapOptional<Handler> post_start;
  HeapOptional<Handler> pre_stop;
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
  // Networking; ignored (and refused with ports) on the host network.
  std::vector<ContainerPort> ports;
  std::string hostname;  // empty: HostnameFor(metadata)
  DnsPolicy dns_policy = DnsPolicy::kDefault;
  HeapOptional<DnsConfig> dns_config;
  std::vector<HostAlias> host_aliases;
  // Health.
  // On the heap (absent from most specs, and each would take ~450 bytes
  // of every copy of the object).
  HeapOptional<Probe> liveness_probe;
  HeapOptional<Probe> readiness_probe;
  HeapOptional<Probe> startup_probe;
  Lifecycle lifecycle;
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
