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
};

// The container's CPU period; quota = cpu_millis * period / 1000.
inline constexpr int64_t kCpuPeriodMicros = 100000;

// Builds config.json (OCI runtime-spec 1.0.2): the spec's process, user,
// limits, mounts and namespaces, Docker's default capabilities, masked and
// read-only paths, and RLIMIT_NOFILE no higher than the caller's hard limit.
nlohmann::json BuildOciConfig(const ContainerSpec& spec, const BundleOptions& options);

}  // namespace berth::runtime::oci

#endif  // BERTH_RUNTIME_OCI_OCI_CONFIG_H_
