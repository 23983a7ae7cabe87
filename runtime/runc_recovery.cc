// RuncRuntime's recovery at Open (containerd's shim_load.go): what a
// previous Berth process left is adopted, rolled back or removed, from the
// state directory, runc's root and the monitors' cgroups.
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/monitor_client.h"
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
      target.after_failed_teardown = record->phase == RecordPhase::kDeleting;
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
  // An earlier berthd gave each monitor a cgroup of its own
  // (<monitors>/<id>): an adopted container's monitor moves into the shared
  // one, any other is killed, and the directories go.
  for (const std::string& name : CgroupChildren(MonitorsCgroup())) {
    const std::string own = MonitorsCgroup() + "/" + name;
    if (known.count(name) == 0 || !ValidateContainerId(name).ok()) {
      note(&recovery_.orphans_removed, name, KillAndRemoveCgroups(own, options_.cleanup_timeout));
      continue;
    }
    absl::Status s;
    for (int attempt = 0; attempt < 3; ++attempt) {
      s = absl::OkStatus();
      for (int pid : CgroupPids(own)) Keep(&s, MoveToMonitorsCgroup(pid));
      for (const std::string& d : ExistingCgroupDirs(own)) {
        if (rmdir(d.c_str()) != 0 && errno != ENOENT) {
          Keep(&s, absl::ErrnoToStatus(errno, absl::StrCat("remove cgroup ", d)));
        }
      }
      if (s.ok()) break;
    }
    if (!s.ok()) recovery_.errors.push_back(s.ToString());
  }
  // In the monitors' cgroup, what belongs to no container left: a monitor
  // of an unknown id (its container's directory went before it), and any
  // process outside the process group of a kept monitor (the runc a killed
  // monitor left). Each is killed.
  {
    const std::vector<int> procs = CgroupPids(MonitorsCgroup());
    std::set<pid_t> kept;
    struct Killed {
      pid_t pid;
      uint64_t start_time;
      std::string id;
    };
    std::vector<Killed> killed;
    std::vector<std::string> ids;
    for (int pid : procs) {
      ids.push_back(MonitorIdOf(pid));
      if (!ids.back().empty() && known.count(ids.back()) != 0) kept.insert(pid);
    }
    for (size_t i = 0; i < procs.size(); ++i) {
      const pid_t pid = procs[i];
      if (kept.count(pid) != 0 || kept.count(getpgid(pid)) != 0) continue;
      const uint64_t start_time = ProcessStartTime(pid);
      if (start_time == 0) continue;  // gone, or a zombie
      killed.push_back({pid, start_time, ids[i]});
      kill(pid, SIGKILL);
    }
    const absl::Time deadline = absl::Now() + options_.cleanup_timeout;
    for (const auto& [pid, start_time, id] : killed) {
      absl::Status s;
      while (ProcessIsAlive(pid, start_time)) {
        if (absl::Now() >= deadline) {
          s = absl::DeadlineExceededError(
              absl::StrCat("process ", pid, " in the monitors' cgroup survived SIGKILL"));
          break;
        }
        absl::SleepFor(absl::Milliseconds(5));
      }
      if (!id.empty()) {
        note(&recovery_.orphans_removed, id, s);
      } else {
        spdlog::info("recovery: killed process {} in the monitors' cgroup", pid);
        if (!s.ok()) recovery_.errors.push_back(s.ToString());
      }
    }
    RemoveMonitorsCgroupIfEmpty();
  }
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
