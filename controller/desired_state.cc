#include "controller/desired_state.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/spec/handler_json.h"
#include "controller/spec/spec_hash.h"
#include "runtime/names.h"

namespace berth::controller {
namespace {

// Published ports (lowercase protocol, as CNI's portMappings), extra
// /etc/hosts lines and, with dnsPolicy None, the whole resolv.conf (with
// Default the runtime uses the node's); the object's namespace and name in
// CNI_ARGS, as kubelet passes a pod's.
void SetNetwork(const ObjectMeta& meta, const NodeContainerSpec& in, runtime::ContainerSpec* spec) {
  spec->cni_args = {{"K8S_POD_NAMESPACE", meta.namespace_}, {"K8S_POD_NAME", meta.name}};
  for (const ContainerPort& p : in.ports) {
    if (p.host_port == 0) continue;  // informational
    spec->ports.push_back(runtime::PortMapping{
        p.host_port, p.container_port, p.protocol == Protocol::kUdp ? "udp" : "tcp", p.host_ip});
  }
  for (const HostAlias& a : in.host_aliases) spec->host_aliases.push_back({a.ip, a.hostnames});
  if (in.dns_policy == DnsPolicy::kNone && in.dns_config.has_value()) {
    runtime::DnsSettings& dns = spec->dns.emplace();
    dns.nameservers = in.dns_config->nameservers;
    dns.searches = in.dns_config->searches;
    for (const DnsOption& o : in.dns_config->options) {
      dns.options.push_back(o.value.has_value() ? absl::StrCat(o.name, ":", *o.value) : o.name);
    }
  }
}

// The runtime spec of `object` on `image`, not validated and without the
// spec hash.
runtime::ContainerSpec ComposeSpec(const NodeContainer& object, const image::ResolvedImage* image) {
  const std::string id = ContainerIdFor(object.metadata);
  const NodeContainerSpec& in = object.spec;
  runtime::ContainerSpec spec;
  spec.id = id;
  spec.rootfs_layers = image->layers;
  // kubelet: command replaces Entrypoint (and drops Cmd); args replace Cmd.
  if (!in.command.empty()) {
    spec.args = in.command;
    spec.args.insert(spec.args.end(), in.args.begin(), in.args.end());
  } else {
    spec.args = image->entrypoint;
    const auto& rest = in.args.empty() ? image->cmd : in.args;
    spec.args.insert(spec.args.end(), rest.begin(), rest.end());
  }
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  auto put = [&](const std::string& k, const std::string& v) {
    if (env.emplace(k, v).second) {
      order.push_back(k);
    } else {
      env[k] = v;
    }
  };
  for (const std::string& kv : image->env) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) put(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const EnvVar& e : in.env) put(e.name, e.value);
  for (const std::string& k : order) spec.env.push_back(absl::StrCat(k, "=", env[k]));
  spec.working_dir = !in.working_dir.empty()       ? in.working_dir
                     : !image->working_dir.empty() ? image->working_dir
                                                   : "/";
  // kubelet: runAsUser replaces the image's USER (and its group, unless
  // runAsGroup says otherwise).
  if (in.run_as_user.has_value()) {
    spec.uid = *in.run_as_user;
    spec.gid = in.run_as_group.value_or(0);
  } else {
    spec.uid = image->uid.value_or(0);
    spec.gid = in.run_as_group.value_or(image->gid.value_or(0));
  }
  // kubelet: a host-network container keeps the node's name (and network:
  // its ports are informational, its /etc files the node's).
  if (!in.host_network) {
    spec.hostname = in.hostname.empty() ? HostnameFor(object.metadata) : in.hostname;
    SetNetwork(object.metadata, in, &spec);
  }
  spec.resources.memory_bytes = in.limits.memory_bytes;
  spec.resources.cpu_millis = in.limits.cpu_millis;
  spec.resources.pids = in.limits.pids;
  for (const Mount& m : in.mounts) {
    runtime::MountSpec rm;
    rm.destination = m.mount_path;
    rm.read_only = m.read_only;
    if (m.host_path.has_value()) {
      rm.type = runtime::MountSpec::Type::kBind;
      rm.source = *m.host_path;
    } else {
      rm.type = runtime::MountSpec::Type::kTmpfs;
      rm.size_bytes = m.tmpfs_size_bytes.value_or(0);
    }
    spec.mounts.push_back(std::move(rm));
  }
  spec.stop_signal = in.stop_signal;
  spec.host_network = in.host_network;
  spec.labels = object.metadata.labels;
  ContainerAnnotations annotations;
  annotations.namespace_ = object.metadata.namespace_;
  annotations.name = object.metadata.name;
  annotations.grace_period = absl::Seconds(in.termination_grace_period_seconds);
  annotations.generation = object.metadata.generation;
  // NodeContainer::source is "file:line"; keep the file.
  annotations.source_file = object.source.substr(0, object.source.rfind(':'));
  annotations.source = object.origin;
  annotations.image = image->reference;
  annotations.image_id = image->image_id;
  if (in.lifecycle.pre_stop.has_value()) {
    annotations.pre_stop = WithPortNumbers(*in.lifecycle.pre_stop, in.ports);
  }
  annotations.EncodeInto(&spec.annotations);
  return spec;
}

}  // namespace

std::string DesiredSpecHash(const NodeContainer& object) { return SpecHash(object.spec); }

ImagePullPolicy EffectivePullPolicy(const NodeContainerSpec& spec) {
  if (spec.image_pull_policy.has_value()) return *spec.image_pull_policy;
  if (absl::StrContains(spec.image, "@")) return ImagePullPolicy::kIfNotPresent;
  const std::string last = spec.image.substr(spec.image.rfind('/') + 1);
  const size_t colon = last.rfind(':');
  if (colon == std::string::npos || last.substr(colon + 1) == "latest") {
    return ImagePullPolicy::kAlways;
  }
  return ImagePullPolicy::kIfNotPresent;
}

absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const NodeContainer& object,
                                                          const image::ResolvedImage& image) {
  const std::string id = ContainerIdFor(object.metadata);
  if (absl::Status s = runtime::ValidateContainerId(id); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("build container ", id, " from ", object.source,
                                                   ": namespace.name: ", s.message()));
  }
  runtime::ContainerSpec spec = ComposeSpec(object, &image);
  if (spec.args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("build container ", id,
                                                   ": no command: the spec has none and image ",
                                                   image.reference, " has no Entrypoint or Cmd"));
  }
  if (absl::Status s = runtime::ValidateContainerSpec(spec); !s.ok()) return s;
  ContainerAnnotations annotations = ContainerAnnotations::Decode(spec.annotations);
  annotations.spec_hash = DesiredSpecHash(object);
  annotations.EncodeInto(&spec.annotations);
  return spec;
}

absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const NodeContainer& object,
                                                          const image::ImageStore& images) {
  absl::StatusOr<image::ResolvedImage> image =
      images.Resolve(object.spec.image, ImagePullPolicy::kNever, {});
  if (!image.ok()) {
    return absl::Status(image.status().code(),
                        absl::StrCat("build container ", ContainerIdFor(object.metadata), ": ",
                                     image.status().message()));
  }
  return BuildContainerSpec(object, *image);
}

bool IsForNode(const NodeContainer& object, const std::string& node_name,
               const std::map<std::string, std::string>& node_labels) {
  if (!object.spec.node_name.empty() && object.spec.node_name != node_name) return false;
  for (const auto& [k, v] : object.spec.node_selector) {
    auto it = node_labels.find(k);
    if (it == node_labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace berth::controller
