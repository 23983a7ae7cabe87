#include "controller/spec/legacy_spec_hash.h"

#include <cstdint>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace berth::controller {
namespace {

uint64_t Fnv1a(absl::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// v0.1.0's env: the image's (none here) under the object's, in order of
// first appearance, the last value of a name winning.
std::vector<std::string> Env(const std::vector<EnvVar>& in) {
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  for (const EnvVar& e : in) {
    if (env.emplace(e.name, e.value).second) {
      order.push_back(e.name);
    } else {
      env[e.name] = e.value;
    }
  }
  std::vector<std::string> out;
  for (const std::string& k : order) out.push_back(absl::StrCat(k, "=", env[k]));
  return out;
}

// The JSON that v0.1.0 hashed: its record form of runtime::ContainerSpec
// (field names and value types as they were), built on a placeholder image
// that is only the reference (no Entrypoint, Cmd, Env, WorkingDir or USER),
// without "labels" and "annotations", and with the single layer as
// "rootfs". Each key is a copy, not a use, of the runtime's record format.
nlohmann::json LegacyJson(const NodeContainer& object) {
  const NodeContainerSpec& in = object.spec;
  // kubelet's rules against an image without Entrypoint and Cmd: the
  // command, then the args.
  std::vector<std::string> args = in.command;
  args.insert(args.end(), in.args.begin(), in.args.end());
  nlohmann::json mounts = nlohmann::json::array();
  for (const Mount& m : in.mounts) {
    const bool bind = m.host_path.has_value();
    mounts.push_back({{"type", bind ? "bind" : "tmpfs"},
                      {"source", bind ? *m.host_path : std::string()},
                      {"destination", m.mount_path},
                      {"read_only", m.read_only},
                      {"size_bytes", bind ? int64_t{0} : m.tmpfs_size_bytes.value_or(0)}});
  }
  return {{"id", ContainerIdFor(object.metadata)},
          {"rootfs", in.image},
          {"args", args},
          {"env", Env(in.env)},
          {"working_dir", in.working_dir.empty() ? std::string("/") : in.working_dir},
          {"uid", in.run_as_user.value_or(0)},
          {"gid", in.run_as_group.value_or(0)},
          {"hostname", in.host_network ? std::string() : HostnameFor(object.metadata)},
          {"memory_bytes", in.limits.memory_bytes},
          {"cpu_millis", in.limits.cpu_millis},
          {"pids", in.limits.pids},
          {"mounts", mounts},
          {"stop_signal", in.stop_signal},
          {"host_network", in.host_network},
          {"host_pid", false},
          {"log_max_bytes", int64_t{10} << 20},
          {"log_max_files", 2}};
}

}  // namespace

bool IsLegacySpecHash(absl::string_view value) {
  if (value.size() != 16) return false;
  for (char c : value) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

std::string LegacySpecHash(const NodeContainer& object) {
  return absl::StrFormat("%016x", Fnv1a(LegacyJson(object).dump()));
}

}  // namespace berth::controller
