#include "runtime/oci/oci_config.h"

#include <sys/resource.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::runtime::oci {
namespace {

using nlohmann::json;

constexpr const char* kDefaultCapabilities[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

constexpr const char* kMaskedPaths[] = {"/proc/acpi",
                                        "/proc/asound",
                                        "/proc/kcore",
                                        "/proc/keys",
                                        "/proc/latency_stats",
                                        "/proc/timer_list",
                                        "/proc/timer_stats",
                                        "/proc/sched_debug",
                                        "/proc/scsi",
                                        "/sys/firmware",
                                        "/sys/devices/virtual/powercap"};

constexpr const char* kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                          "/proc/sysrq-trigger"};

json BaseMounts() {
  return json::array({
      {{"destination", "/proc"},
       {"type", "proc"},
       {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
}

json UserMount(const MountSpec& m) {
  if (m.type == MountSpec::Type::kTmpfs) {
    json opts = {"nosuid", "nodev", "mode=1777"};
    if (m.size_bytes > 0) opts.push_back(absl::StrCat("size=", m.size_bytes));
    if (m.read_only) opts.push_back("ro");
    return {
        {"destination", m.destination}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", opts}};
  }
  return {{"destination", m.destination},
          {"type", "bind"},
          {"source", m.source},
          {"options", {"rbind", m.read_only ? "ro" : "rw", "rprivate"}}};
}

uint64_t NofileLimit() {
  constexpr uint64_t kWanted = 1048576;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_max == RLIM_INFINITY) return kWanted;
  return std::min<uint64_t>(kWanted, rl.rlim_max);
}

}  // namespace

json BuildOciConfig(const ContainerSpec& spec, const BundleOptions& options) {
  json env = json::array();
  bool has_path = false;
  for (const std::string& e : spec.env) has_path |= absl::StartsWith(e, "PATH=");
  if (!has_path) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  // The id's first label, like a pod's hostname.
  const std::string hostname =
      spec.hostname.empty() ? spec.id.substr(0, spec.id.find('.')) : spec.hostname;
  const bool own_uts = !spec.host_network || !spec.hostname.empty();
  if (own_uts) env.push_back(absl::StrCat("HOSTNAME=", hostname));
  for (const std::string& e : spec.env) env.push_back(e);

  json caps = json::array();
  for (const char* c : kDefaultCapabilities) caps.push_back(c);
  const uint64_t nofile = NofileLimit();

  json process = {
      {"terminal", false},
      {"user", {{"uid", spec.uid}, {"gid", spec.gid}}},
      {"args", spec.args},
      {"env", env},
      {"cwd", spec.working_dir.empty() ? "/" : spec.working_dir},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", nofile}, {"soft", nofile}}})},
      {"noNewPrivileges", true},
  };

  json mounts = BaseMounts();
  if (!options.etc_dir.empty()) {
    for (const char* name : {"hostname", "hosts", "resolv.conf"}) {
      const std::string destination = absl::StrCat("/etc/", name);
      const bool user_mounted =
          std::any_of(spec.mounts.begin(), spec.mounts.end(),
                      [&](const MountSpec& m) { return m.destination == destination; });
      if (user_mounted) continue;
      mounts.push_back({{"destination", destination},
                        {"type", "bind"},
                        {"source", absl::StrCat(options.etc_dir, "/", name)},
                        {"options", {"rbind", "rprivate", "rw"}}});
    }
  }
  for (const MountSpec& m : spec.mounts) mounts.push_back(UserMount(m));

  json namespaces = json::array({{{"type", "ipc"}}, {{"type", "mount"}}});
  if (!spec.host_pid) namespaces.push_back({{"type", "pid"}});
  if (!spec.host_network) {
    json netns = {{"type", "network"}};
    if (!options.netns_path.empty()) netns["path"] = options.netns_path;
    namespaces.push_back(std::move(netns));
  }
  if (own_uts) namespaces.push_back({{"type", "uts"}});

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (spec.resources.memory_bytes > 0) {
    resources["memory"] = {{"limit", spec.resources.memory_bytes}};
  }
  if (spec.resources.cpu_millis > 0) {
    resources["cpu"] = {{"quota", spec.resources.cpu_millis * kCpuPeriodMicros / 1000},
                        {"period", kCpuPeriodMicros}};
  }
  if (spec.resources.pids > 0) resources["pids"] = {{"limit", spec.resources.pids}};

  json masked = json::array();
  for (const char* p : kMaskedPaths) masked.push_back(p);
  json readonly = json::array();
  for (const char* p : kReadonlyPaths) readonly.push_back(p);

  json annotations = json::object();
  for (const auto& [k, v] : spec.annotations) annotations[k] = v;

  json config = {
      {"ociVersion", "1.0.2"},
      {"process", process},
      {"root", {{"path", options.rootfs_path}, {"readonly", false}}},
      {"mounts", mounts},
      {"linux",
       {{"resources", resources},
        {"cgroupsPath", options.cgroups_path},
        {"namespaces", namespaces},
        {"maskedPaths", masked},
        {"readonlyPaths", readonly}}},
      {"annotations", annotations},
  };
  if (own_uts) config["hostname"] = hostname;
  return config;
}

}  // namespace berth::runtime::oci
