// RuncRuntime's networking (a CNI runtime, as containerd's CRI plugin is):
// the network a container joins, its host ports, its namespace file and
// CNI ADD at create, CNI DEL and the namespace's removal at delete and in
// recovery.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "runtime/names.h"
#include "runtime/network/cni.h"
#include "runtime/network/netns.h"
#include "runtime/runc_internal.h"
#include "runtime/runc_runtime.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {
namespace {

bool AnyAddress(const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; }

// Two mappings publish the same port of the node.
bool Clash(const PortMapping& a, const PortMapping& b) {
  return a.host_port != 0 && a.host_port == b.host_port && a.protocol == b.protocol &&
         (AnyAddress(a.host_ip) || AnyAddress(b.host_ip) || a.host_ip == b.host_ip);
}

}  // namespace

absl::StatusOr<std::optional<network::CniNetwork>> RuncRuntime::NetworkFor(
    const ContainerSpec& spec) const {
  if (spec.host_network) return std::optional<network::CniNetwork>();
  absl::StatusOr<std::optional<network::CniNetwork>> net =
      network::LoadNetwork(options_.cni_conf_dir);
  if (!net.ok()) return WithContext("create", spec.id, "network", net.status());
  const bool publishes = std::any_of(spec.ports.begin(), spec.ports.end(),
                                     [](const PortMapping& p) { return p.host_port != 0; });
  if (!net->has_value() && publishes) {
    return absl::FailedPreconditionError(absl::StrCat("create container ", spec.id,
                                                      ": it publishes ports, and there is no CNI ",
                                                      "network in ", options_.cni_conf_dir));
  }
  return net;
}

absl::Status RuncRuntime::CheckHostPorts(const ContainerSpec& spec) const {
  if (spec.ports.empty()) return absl::OkStatus();
  for (const std::string& other : store_.ListEntries()) {
    if (other == spec.id || !ValidateContainerId(other).ok()) continue;
    absl::StatusOr<RecordSummary> record = store_.ReadSummary(other);
    if (!record.ok()) continue;
    for (const PortMapping& theirs : record->ports) {
      for (const PortMapping& ours : spec.ports) {
        if (!Clash(ours, theirs)) continue;
        return absl::FailedPreconditionError(
            absl::StrCat("create container ", spec.id, ": host port ",
                         AnyAddress(ours.host_ip) ? "" : ours.host_ip + ":", ours.host_port, "/",
                         ours.protocol, " is published by container ", other));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RuncRuntime::AddToNetwork(const network::CniNetwork& net, ContainerRecord* record) {
  const std::string& id = record->spec.id;
  network::NetworkCache cache;
  cache.network = net;
  cache.attachment = network::MakeAttachment(id, record->netns_path, record->spec.cni_args);
  for (const PortMapping& p : record->spec.ports) {
    if (p.host_port != 0) cache.attachment.ports.push_back(p);  // 0: not published
  }
  // Written before ADD: a crash during it is undone with this.
  if (absl::Status s = network::WriteNetworkCache(store_.NetworkCacheFile(id), cache); !s.ok()) {
    return s;
  }
  absl::StatusOr<nlohmann::json> result = cni_.Add(net, cache.attachment);
  if (!result.ok()) return result.status();
  cache.result = *result;
  if (absl::Status s = network::WriteNetworkCache(store_.NetworkCacheFile(id), cache); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> ip = network::PrimaryIp(*result, cache.attachment.ifname);
  if (!ip.ok()) {
    return absl::InternalError(absl::StrCat("CNI network ", net.name, ": ", ip.status().message()));
  }
  record->ip = *ip;
  return absl::OkStatus();
}

absl::Status RuncRuntime::ReleaseNetwork(const std::string& id) {
  const std::string cache_file = store_.NetworkCacheFile(id);
  absl::StatusOr<network::NetworkCache> cache = network::ReadNetworkCache(cache_file);
  std::string netns = NetnsPathFor(id);
  absl::Status deleted;
  if (cache.ok()) {
    netns = cache->attachment.netns;
    deleted = cni_.Del(cache->network, cache->attachment, cache->result);
  } else if (network::IsNetns(netns) || !absl::IsNotFound(cache.status())) {
    // No usable cache (written before every ADD, so there was no ADD, or it
    // was lost): to be safe, DEL through the current network, the plugins
    // find what is theirs by the container id; a failure is only logged.
    if (!absl::IsNotFound(cache.status())) spdlog::warn("{}", cache.status().ToString());
    absl::StatusOr<std::optional<network::CniNetwork>> net =
        network::LoadNetwork(options_.cni_conf_dir);
    if (net.ok() && net->has_value()) {
      absl::Status s = cni_.Del(**net, network::MakeAttachment(id, netns, {}), nlohmann::json());
      if (!s.ok()) spdlog::warn("release network of container {}: {}", id, s.ToString());
    }
  }
  if (!deleted.ok()) {
    return absl::Status(deleted.code(),
                        absl::StrCat("release network of container ", id, ": ", deleted.message()));
  }
  absl::Status first;
  Keep(&first, network::RemoveNetns(netns));
  if (netns != NetnsPathFor(id)) Keep(&first, network::RemoveNetns(NetnsPathFor(id)));
  if (first.ok() && unlink(cache_file.c_str()) != 0 && errno != ENOENT) {
    Keep(&first, absl::ErrnoToStatus(errno, absl::StrCat("remove ", cache_file)));
  }
  return first;
}

}  // namespace berth::runtime
