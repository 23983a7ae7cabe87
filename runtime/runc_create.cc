// RuncRuntime's create transaction: one step per resource, each undone by
// its own absl::Cleanup unless the record is committed (containerd's
// task manager: rollback on a failed create).
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/monitor_client.h"
#include "runtime/network/etc_files.h"
#include "runtime/network/netns.h"
#include "runtime/oci/oci_config.h"
#include "runtime/runc_internal.h"
#include "runtime/runc_runtime.h"
#include "runtime/snapshot/copy_layers.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {

absl::Status RuncRuntime::Create(const ContainerSpec& spec) {
  if (absl::Status s = ValidateContainerSpec(spec); !s.ok()) return s;
  IdLock l(this, spec.id);
  return CreateLocked(spec);
}

absl::Status RuncRuntime::CreateLocked(const ContainerSpec& spec) {
  const std::string& id = spec.id;
  const absl::Time deadline = absl::Now() + options_.create_timeout;
  auto fault = [&](const char* step) {
    return options_.faults != nullptr ? options_.faults->Check(step) : absl::OkStatus();
  };
  auto fail = [&](const char* step, const absl::Status& s) {
    return WithContext("create", id, step, s);
  };
  for (const std::string& layer : spec.rootfs_layers) {
    if (!IsDirectory(layer)) {
      return absl::FailedPreconditionError(
          absl::StrCat("create container ", id, ": rootfs layer ", layer, " is not a directory"));
    }
  }

  absl::StatusOr<std::optional<network::CniNetwork>> net = NetworkFor(spec);
  if (!net.ok()) return net.status();

  // Step state_dir: the container's directory and its first record. With
  // host ports, checked against the other records and written under
  // ports_mu_: two creates cannot both take a port.
  const std::string rootfs = store_.RootfsDir(id);
  std::optional<absl::MutexLock> ports_lock;
  if (!spec.ports.empty()) {
    ports_lock.emplace(&ports_mu_);
    if (absl::Status s = CheckHostPorts(spec); !s.ok()) return s;
  }
  if (absl::Status s = store_.CreateDir(id); !s.ok()) return s;
  const std::string dir = store_.ContainerDir(id);
  absl::Cleanup remove_dir = [&] {
    if (absl::Status s = RemoveTree(dir); !s.ok())
      spdlog::error("rollback {}: {}", id, s.ToString());
  };
  ContainerRecord record;
  record.spec = spec;
  record.phase = RecordPhase::kCreating;
  record.cgroups_path = CgroupPathFor(id);
  record.created_at = absl::Now();
  if (absl::Status s = store_.Write(record); !s.ok()) return fail("state_dir", s);
  ports_lock.reset();
  if (absl::Status s = fault("state_dir"); !s.ok()) return fail("state_dir", s);

  // The monitor starts now and waits while the bundle is prepared.
  const std::string overlay = OverlayOptionsFor(spec);
  const std::vector<std::string> argv = MonitorArgv(options_.monitor_binary, spec, store_, runc_,
                                                    record.cgroups_path, overlay);
  absl::StatusOr<MonitorLaunch> launch = MonitorLaunch::Start(argv);
  if (!launch.ok()) return fail("monitor_spawn", launch.status());
  absl::Cleanup kill_processes = [&] {
    if (record.monitor_pid == 0) {
      // Its pid comes first on the socket (it runs nothing before "go").
      absl::StatusOr<pid_t> monitor = launch->Hello(absl::Now() + kMonitorHelloTimeout);
      if (monitor.ok()) record.monitor_pid = *monitor;
    }
    TeardownTarget target = RecordedTarget(id, record);
    FindMonitor(&target);
    if (absl::Status s = KillAndForget(target); !s.ok()) {
      spdlog::error("rollback {}: {}", id, s.ToString());
    }
  };

  // Step netns: the container's network namespace file; step cni_add: CNI
  // ADD. Both undone by one cleanup: CNI DEL and the file's removal.
  absl::Cleanup release_network = [&] {
    if (absl::Status s = ReleaseNetwork(id); !s.ok()) {
      spdlog::error("rollback {}: {}", id, s.ToString());
    }
  };
  if (net->has_value()) {
    absl::StatusOr<std::string> netns = network::CreateNetns(options_.netns_dir, id);
    if (!netns.ok()) return fail("netns", netns.status());
    record.netns_path = *netns;
  }
  if (absl::Status s = fault("netns"); !s.ok()) return fail("netns", s);
  if (net->has_value()) {
    if (absl::Status s = AddToNetwork(**net, &record); !s.ok()) return fail("cni_add", s);
  }
  if (absl::Status s = fault("cni_add"); !s.ok()) return fail("cni_add", s);

  // Step etc_files: the container's /etc/hostname, hosts and resolv.conf.
  if (!spec.host_network) {
    if (absl::Status s = network::WriteEtcFiles(store_.EtcDir(id), spec, record.ip); !s.ok()) {
      return fail("etc_files", s);
    }
  }
  if (absl::Status s = fault("etc_files"); !s.ok()) return fail("etc_files", s);

  // Step bundle: config.json and the overlay's directories.
  for (const std::string& d : {rootfs, store_.UpperDir(id), store_.WorkDir(id)}) {
    if (absl::Status s = MakeDirs(d, 0755); !s.ok()) return fail("bundle", s);
  }
  oci::BundleOptions bundle{rootfs, record.cgroups_path, record.netns_path};
  if (!spec.host_network) bundle.etc_dir = store_.EtcDir(id);
  nlohmann::json config = oci::BuildOciConfig(spec, bundle);
  if (absl::Status s = WriteFileAtomic(store_.BundleDir(id) + "/config.json", config.dump(),
                                       Durability::kAtomic);
      !s.ok()) {
    return fail("bundle", s);
  }
  if (absl::Status s = fault("bundle"); !s.ok()) return fail("bundle", s);

  // Step rootfs_mount: a copy of the image, unless the monitor mounts it
  // read-only below the writable upper layer in runc's own mount namespace
  // (then the node's mount table never grows with containers, and no
  // unmount is left to do: the overlay goes with the container's namespace).
  if (overlay.empty()) {
    if (absl::Status s = snapshot::CopyLayers(spec.rootfs_layers, rootfs); !s.ok()) {
      return fail("rootfs_mount", s);
    }
  }
  if (absl::Status s = fault("rootfs_mount"); !s.ok()) return fail("rootfs_mount", s);

  // Step monitor_spawn: the monitor has said hello; it runs `runc create`
  // as its child once told to go.
  absl::StatusOr<pid_t> monitor = launch->Hello(absl::Now() + kMonitorHelloTimeout);
  if (!monitor.ok()) return fail("monitor_spawn", monitor.status());
  record.monitor_pid = *monitor;
  record.monitor_start_time = ProcessStartTime(record.monitor_pid);
  if (absl::Status s = fault("monitor_spawn"); !s.ok()) return fail("monitor_spawn", s);
  launch->Go();
  // Out of the caller's cgroup, so that whatever stops the caller's service
  // or pod (a cgroup-wide kill) leaves the monitor and its exit record alone.
  // Done while runc create runs.
  if (absl::Status s = MoveToMonitorsCgroup(record.monitor_pid); !s.ok()) {
    spdlog::warn("container {}: monitor stays in berthd's cgroup: {}", id, s.ToString());
  }

  // Step runc_create: wait for the monitor's word on `runc create`.
  absl::StatusOr<pid_t> created = launch->Created(deadline);
  if (!created.ok()) return fail("runc_create", created.status());
  record.pid = *created;
  record.pid_start_time = ProcessStartTime(record.pid);
  if (record.pid <= 0 || record.pid_start_time == 0) {
    return fail("runc_create", absl::InternalError(absl::StrCat("container process ", record.pid,
                                                                " is not running")));
  }
  if (absl::Status s = fault("runc_create"); !s.ok()) return fail("runc_create", s);

  // Step commit.
  if (absl::Status s = fault("commit"); !s.ok()) return fail("commit", s);
  record.phase = RecordPhase::kCreated;
  if (absl::Status s = store_.Write(record); !s.ok()) return fail("commit", s);
  std::move(kill_processes).Cancel();
  std::move(release_network).Cancel();
  std::move(remove_dir).Cancel();
  return absl::OkStatus();
}

absl::Status RuncRuntime::MoveToMonitorsCgroup(pid_t monitor) {
  absl::MutexLock l(&monitors_cgroup_mu_);
  // Usually there: the pid's writes alone. Else (first, after the last
  // monitor left, or removed by someone else) made again.
  if (monitors_cgroup_made_ && JoinCgroup(monitor, MonitorsCgroup()).ok()) {
    return absl::OkStatus();
  }
  absl::Status s = MoveToCgroup(monitor, MonitorsCgroup());
  monitors_cgroup_made_ = s.ok();
  return s;
}

std::string RuncRuntime::OverlayOptionsFor(const ContainerSpec& spec) const {
  if (options_.rootfs_mode != RootfsMode::kOverlay) return "";
  std::string options = snapshot::OverlayMountOptions(
      spec.rootfs_layers, store_.UpperDir(spec.id), store_.WorkDir(spec.id));
  if (options.size() <= snapshot::kMaxMountOptionBytes) return options;
  spdlog::warn(
      "create container {}: overlay options for {} layers take {} bytes (limit {}); "
      "copying the layers instead",
      spec.id, spec.rootfs_layers.size(), options.size(), snapshot::kMaxMountOptionBytes);
  return "";
}

}  // namespace berth::runtime
