// Turns a ContainerSpec into an OCI runtime-spec config.json for runc.
#ifndef BERTH_RUNTIME_OCI_OCI_CONFIG_H_
#define BERTH_RUNTIME_OCI_OCI_CONFIG_H_

#include <string>

#include "nlohmann/json.hpp"
#include "runtime/container_spec.h"

namespace berth::runtime::oci {

struct BundleOptions {
  std::string rootfs_path;   // absolute path of the mounted root file system
  std::string cgroups_path;  // e.g. "/berth/web"
  // The network namespace to join (a file, runtime/network/netns.h); empty:
  // runc makes a new one (unless the spec shares the host's).
  std::string netns_path;
  // A directory holding hostname, hosts and resolv.conf, bind-mounted onto
  // /etc/hostname, /etc/hosts and /etc/resolv.conf (except where the spec
  // mounts something itself); empty: none.
  std::string etc_dir;
};

// The container's CPU period; quota = cpu_millis * period / 1000.
inline constexpr int64_t kCpuPeriodMicros = 100000;

// Builds config.json (OCI runtime-spec 1.0.2): the spec's process, user,
// limits, mounts and namespaces, Docker's default capabilities, masked and
// read-only paths, and RLIMIT_NOFILE no higher than the caller's hard limit;
// the network namespace and /etc files of `options`.
nlohmann::json BuildOciConfig(const ContainerSpec& spec, const BundleOptions& options);

}  // namespace berth::runtime::oci

#endif  // BERTH_RUNTIME_OCI_OCI_CONFIG_H_
