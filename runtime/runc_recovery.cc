// RuncRuntime's recovery at Open (containerd's shim_load.go): what a
// previous Berth process left is adopted, rolled back or removed, from the
// state directory, runc's root and the monitors' cgroups.
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "runtime/names.h"
#include "runtime/network/netns.h"
#include "runtime/runc_internal.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {

void RuncRuntime::Recover() {
  std::set<std::string> known;
  auto note = [&](std::vector<std::string>* list, const std::string& id, const absl::Status& s) {
    list->push_back(id);
    if (!s.ok()) recovery_.errors.push_back(s.ToString());
  };
  // Container directories, by their records.
  for (const std::string& name : store_.ListEntries()) {
    const std::string dir = store_.ContainerDir(name);
    if (!ValidateContainerId(name).ok()) {
      // Not a name Berth creates: nothing of runc's can belong to it.
      absl::Status s;
      for (const std::string& m : MountsUnder(dir)) Keep(&s, Unmount(m));
      Keep(&s, RemoveTree(dir));
      note(&recovery_.orphans_removed, name, s);
      continue;
    }
    absl::StatusOr<ContainerRecord> record = store_.Read(name);
    if (!record.ok() && !absl::IsNotFound(record.status()) && !absl::IsDataLoss(record.status())) {
      // Another version's record, or a read error: leave all of it alone.
      recovery_.errors.push_back(record.status().ToString());
      known.insert(name);
      continue;
    }
    if (!record.ok()) {
      TeardownTarget target = BareTarget(name);
      FindMonitor(&target);
      note(&recovery_.orphans_removed, name, TearDown(target));
      continue;
    }
    if (record->phase == RecordPhase::kCreating || record->phase == RecordPhase::kDeleting) {
      TeardownTarget target = RecordedTarget(name, *record);
      FindMonitor(&target);
      note(&recovery_.rolled_back, name, TearDown(target));
      continue;
    }
    known.insert(name);
    recovery_.adopted.push_back(name);
    EndOrphanedExecs(name, *record);
  }
  // runc state with no directory.
  absl::StatusOr<std::vector<oci::RuncState>> listed = runc_.List();
  if (!listed.ok()) {
    recovery_.errors.push_back(listed.status().ToString());
    return;
  }
  for (const oci::RuncState& c : *listed) {
    if (known.count(c.id) != 0 || !ValidateContainerId(c.id).ok()) continue;
    known.insert(c.id);
    TeardownTarget target = BareTarget(c.id);
    target.host_pid = true;  // not known: every process in its cgroup goes
    note(&recovery_.orphans_removed, c.id, KillAndForget(target));
  }
  // Monitors of containers that have nothing else left (a crash between
  // moving the monitor and writing the record).
  for (const std::string& name : CgroupChildren(MonitorCgroup(""))) {
    if (known.count(name) != 0) continue;
    note(&recovery_.orphans_removed, name,
         KillAndRemoveCgroups(MonitorCgroup(name), options_.cleanup_timeout));
  }
  for (const std::string& d : ExistingCgroupDirs(MonitorCgroup(""))) rmdir(d.c_str());
  // Network namespaces of containers that have no directory left (their
  // attachments were released with their directories' caches above).
  for (const std::string& name : network::ListNetns(options_.netns_dir)) {
    if (IsDirectory(store_.ContainerDir(name))) continue;
    note(&recovery_.orphans_removed, name, ReleaseNetwork(name));
  }
  for (const auto& id : recovery_.rolled_back)
    spdlog::info("recovery: rolled back container {}", id);
  for (const auto& id : recovery_.orphans_removed) spdlog::info("recovery: removed orphan {}", id);
  for (const auto& e : recovery_.errors) spdlog::error("recovery: {}", e);
}

}  // namespace berth::runtime
