// A networked container's /etc/hostname, /etc/hosts and /etc/resolv.conf
// (kubelet's way): written per container in the runtime's state and
// bind-mounted over the image's.
#ifndef BERTH_RUNTIME_NETWORK_ETC_FILES_H_
#define BERTH_RUNTIME_NETWORK_ETC_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "runtime/container_spec.h"

namespace berth::runtime::network {

inline constexpr char kHostsHeader[] = "# Berth-managed hosts file.\n";

// The container's hostname: spec.hostname, else the id's first label.
std::string ContainerHostname(const ContainerSpec& spec);

// Loopback lines, "<ip>\t<hostname>" when `ip` is not empty, then one line
// per host alias.
std::string HostsFileContent(const ContainerSpec& spec, const std::string& ip);

// spec.dns as nameserver, search and options lines; unset: `node_resolv`
// (the node's /etc/resolv.conf, kubelet's dnsPolicy Default) as it is.
std::string ResolvConfContent(const ContainerSpec& spec, const std::string& node_resolv);

// Writes hostname, hosts and resolv.conf into `dir` (created if needed),
// each atomically. The node's file is read from `node_resolv_path`; a
// missing one gives an empty resolv.conf.
absl::Status WriteEtcFiles(const std::string& dir, const ContainerSpec& spec, const std::string& ip,
                           const std::string& node_resolv_path = "/etc/resolv.conf");

}  // namespace berth::runtime::network

#endif  // BERTH_RUNTIME_NETWORK_ETC_FILES_H_
