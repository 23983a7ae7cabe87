// RuncRuntime's stop and teardown: Stop ends a container's processes and
// keeps its record; Delete, a failed create and recovery remove everything
// of a container through TearDown / KillAndForget, on whatever is left.
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/monitor_client.h"
#include "runtime/names.h"
#include "runtime/runc_internal.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {
namespace {

// After its container exited, the monitor drains the pipes (up to 2 s),
// kills what is left without a PID namespace of its own (up to 10 s) and
// writes the exit file.
constexpr absl::Duration kExitRecordWait = absl::Seconds(15);

// Removes every entry of `dir` but the record and the network cache.
absl::Status RemoveAllButRecord(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str()); d != nullptr) {
    while (const struct dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != ".." && name != "state.json" && name != "network.json") {
        names.push_back(name);
      }
    }
    closedir(d);
  }
  absl::Status first;
  for (const std::string& name : names) Keep(&first, RemoveTree(dir + "/" + name));
  return first;
}

}  // namespace

absl::Status RuncRuntime::Stop(const std::string& id, absl::Duration timeout) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  IdLock l(this, id);
  absl::StatusOr<ContainerRecord> record = store_.Read(id);
  if (!record.ok()) return record.status();
  if (store_.ReadExit(id).has_value()) return absl::OkStatus();
  absl::StatusOr<UniqueFd> container = OpenPidFd(record->pid, record->pid_start_time);
  absl::StatusOr<UniqueFd> monitor = OpenPidFd(record->monitor_pid, record->monitor_start_time);
  if (!container.ok() && !monitor.ok()) return absl::OkStatus();  // nothing left to stop
  // A paused container cannot act on any signal: it is stopped thawed.
  ThawCgroups(record->cgroups_path);
  // Waiting for the monitor means waiting for the exit file too.
  const UniqueFd& waiter = monitor.ok() ? *monitor : *container;

  auto kill_hard = [&]() -> absl::Status {
    if (record->spec.host_pid) {
      absl::Status s = runc_.Kill(id, SIGKILL, /*all=*/true);
      if (!s.ok() && !absl::IsNotFound(s)) spdlog::warn("{}", s.ToString());
    }
    return container.ok() ? SignalPidFd(*container, SIGKILL) : absl::OkStatus();
  };

  // A created container has not run its program: there is nothing to ask.
  const bool graceful = record->phase == RecordPhase::kStarted &&
                        record->spec.stop_signal != SIGKILL && timeout > absl::ZeroDuration();
  if (graceful && container.ok()) {
    if (absl::Status s = SignalPidFd(*container, record->spec.stop_signal); !s.ok()) {
      return WithContext("stop", id, "signal", s);
    }
    if (WaitPidFd(waiter, timeout)) return absl::OkStatus();
    spdlog::info("stop container {}: no exit {} after signal {}, sending SIGKILL", id,
                 absl::FormatDuration(timeout), record->spec.stop_signal);
  }
  if (absl::Status s = kill_hard(); !s.ok()) return WithContext("stop", id, "kill", s);
  if (!WaitPidFd(waiter, options_.cleanup_timeout)) {
    return absl::DeadlineExceededError(absl::StrCat("stop container ", id, ": still running ",
                                                    absl::FormatDuration(options_.cleanup_timeout),
                                                    " after SIGKILL"));
  }
  return absl::OkStatus();
}

absl::Status RuncRuntime::Delete(const std::string& id) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  IdLock l(this, id);
  live_.Forget(id);
  if (!IsDirectory(store_.ContainerDir(id))) {
    // Maybe only runc state or a namespace file is left (e.g. after a
    // lost directory).
    absl::Status s = KillAndForget(BareTarget(id));
    Keep(&s, ReleaseNetwork(id));
    return s.ok() ? s : WithContext("delete", id, "cleanup", s);
  }
  absl::StatusOr<ContainerRecord> record = store_.Read(id);
  absl::Status s;
  if (record.ok()) {
    TeardownTarget target = RecordedTarget(id, *record);
    target.after_failed_teardown = record->phase == RecordPhase::kDeleting;
    record->phase = RecordPhase::kDeleting;
    if (!target.after_failed_teardown) {
      if (absl::Status w = store_.Write(*record); !w.ok()) spdlog::warn("{}", w.ToString());
    }
    s = TearDown(target);
  } else if (absl::IsFailedPrecondition(record.status())) {
    return record.status();  // a newer version's record: not ours to destroy
  } else {
    TeardownTarget target = BareTarget(id);
    FindMonitor(&target);
    s = TearDown(target);
  }
  return s.ok() ? s : WithContext("delete", id, "cleanup", s);
}

RuncRuntime::TeardownTarget RuncRuntime::RecordedTarget(const std::string& id,
                                                        const ContainerRecord& record) {
  TeardownTarget target;
  target.id = id;
  target.cgroups_path = record.cgroups_path;
  target.monitor_pid = record.monitor_pid;
  target.monitor_start_time = record.monitor_start_time;
  target.pid = record.pid;
  target.pid_start_time = record.pid_start_time;
  target.host_pid = record.spec.host_pid;
  return target;
}

RuncRuntime::TeardownTarget RuncRuntime::BareTarget(const std::string& id) const {
  TeardownTarget target;
  target.id = id;
  target.cgroups_path = CgroupPathFor(id);
  return target;
}

void RuncRuntime::FindMonitor(TeardownTarget* target) const {
  if (target->monitor_pid == 0) target->monitor_pid = store_.ReadMonitorPid(target->id);
  if (target->monitor_start_time == 0) {
    target->monitor_start_time = MonitorStartTimeIfOurs(target->monitor_pid, target->id);
  }
}

absl::Status RuncRuntime::KillAndForget(const TeardownTarget& target) {
  const std::string& id = target.id;
  absl::Status first;
  // The monitor leads a process group holding runc and, until runc moves
  // them, the container's processes; killing the group stops all of them.
  if (absl::StatusOr<UniqueFd> monitor = OpenPidFd(target.monitor_pid, target.monitor_start_time);
      monitor.ok()) {
    kill(-target.monitor_pid, SIGKILL);
    if (!WaitPidFd(*monitor, options_.cleanup_timeout)) {
      Keep(&first, absl::DeadlineExceededError(
                       absl::StrCat("monitor ", target.monitor_pid, " survived SIGKILL")));
    } else {
      // The rest of its group (runc, runc init) got the same SIGKILL but
      // may still be exiting: wait for them, or the cgroups cannot go.
      Keep(&first, KillMonitorGroup(target.monitor_pid));
    }
  } else if (!target.monitor_done) {
    Keep(&first, KillLeftoversOfGoneMonitor(target.monitor_pid));
  }
  if (target.host_pid) {
    absl::Status s = runc_.Kill(id, SIGKILL, /*all=*/true);
    (void)s;  // the cgroup sweep below is the backstop
  }
  if (!target.runc_deleted) {
    absl::Status deleted = runc_.Delete(id, /*force=*/true);
    if (!deleted.ok() && !absl::IsNotFound(deleted)) Keep(&first, deleted);
  }
  Keep(&first, KillAndRemoveCgroups(target.cgroups_path, options_.cleanup_timeout));
  RemoveMonitorsCgroupIfEmpty();
  // runc may have been killed between writing its state and finishing, or
  // while its sealed copy of itself (runc.XXXXXX) was mounted there.
  const std::string runc_dir = absl::StrCat(runc_.root(), "/", id);
  for (const std::string& m : MountRootsUnder(runc_dir)) Keep(&first, Unmount(m));
  Keep(&first, RemoveTree(runc_dir));
  return first;
}

void RuncRuntime::RemoveMonitorsCgroupIfEmpty() {
  absl::MutexLock l(&monitors_cgroup_mu_);
  // rmdir fails while a process is in it.
  for (const std::string& d : ExistingCgroupDirs(MonitorsCgroup())) {
    if (rmdir(d.c_str()) == 0) monitors_cgroup_made_ = false;
  }
}

absl::Status RuncRuntime::KillLeftoversOfGoneMonitor(pid_t monitor) {
  if (monitor <= 0 || kill(monitor, 0) == 0 || errno != ESRCH) return absl::OkStatus();
  return KillMonitorGroup(monitor);
}

absl::Status RuncRuntime::KillMonitorGroup(pid_t monitor) {
  const absl::Time deadline = absl::Now() + options_.cleanup_timeout;
  while (true) {
    bool left = false;
    for (int pid : CgroupPids(MonitorsCgroup())) {
      if (getpgid(pid) != monitor) continue;
      kill(pid, SIGKILL);
      left = true;
    }
    if (!left) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "processes of gone monitor ", monitor, "'s group survived SIGKILL"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::Status RuncRuntime::TearDown(const TeardownTarget& target) {
  const std::string& id = target.id;
  absl::Status first;
  // Kill the container first (thawed, or it cannot die) and let the monitor
  // record the exit.
  ThawCgroups(target.cgroups_path);
  if (absl::StatusOr<UniqueFd> c = OpenPidFd(target.pid, target.pid_start_time); c.ok()) {
    if (target.host_pid) (void)runc_.Kill(id, SIGKILL, /*all=*/true);
    Keep(&first, SignalPidFd(*c, SIGKILL));
    if (absl::StatusOr<UniqueFd> m = OpenPidFd(target.monitor_pid, target.monitor_start_time);
        m.ok()) {
      WaitPidFd(*m, kExitRecordWait);
    } else {
      WaitPidFd(*c, options_.cleanup_timeout);
    }
  }
  // Once nothing of the container runs (its process, known and gone, and
  // its monitor, which leads runc and during a create runc init), its root
  // file system is not used: the container's directory is emptied but for
  // the record while runc deletes its state, side by side. Both mostly wait
  // (runc delete ~10 ms; each unlink for the journal: 1-3 ms on a busy
  // disk), so the waits overlap. The record goes last. Otherwise (a failed
  // create, a process that survived) all of it waits until KillAndForget is
  // done. The overlay went with the container's mount namespace; the
  // unmount is for a container an earlier berthd made, with its overlay in
  // the node's mount table.
  const bool monitor_gone = !OpenPidFd(target.monitor_pid, target.monitor_start_time).ok();
  const bool nothing_runs = target.pid > 0 && target.monitor_pid > 0 &&
                            !ProcessIsAlive(target.pid, target.pid_start_time) && monitor_gone;
  // Asked before the directory (and the exit file in it) is emptied.
  const bool monitor_done =
      !target.after_failed_teardown && monitor_gone && store_.ReadExit(id).has_value();
  std::optional<absl::Status> unmounted;
  std::thread unmount;
  if (nothing_runs) {
    unmounted.emplace();
    unmount = std::thread([this, &id, &unmounted] {
      *unmounted = Unmount(store_.RootfsDir(id));
      if (unmounted->ok()) *unmounted = RemoveAllButRecord(store_.ContainerDir(id));
    });
  }
  // A plain delete is cheap once the container has exited; --force is the
  // fallback inside KillAndForget. CNI DEL meanwhile.
  absl::Status deleted = runc_.Delete(id, /*force=*/false);
  const absl::Status released = ReleaseNetwork(id);
  if (unmount.joinable()) unmount.join();
  if (!deleted.ok() && !absl::IsNotFound(deleted)) {
    spdlog::debug("delete container {}: {}; forcing", id, deleted.ToString());
  }
  TeardownTarget rest = target;
  rest.runc_deleted = deleted.ok() || absl::IsNotFound(deleted);
  rest.monitor_done = monitor_done;
  Keep(&first, KillAndForget(rest));
  Keep(&first, unmounted.has_value() ? *unmounted : Unmount(store_.RootfsDir(id)));
  // A failure keeps the record (saying "deleting") and the network cache:
  // a retry knows the monitor, the cgroups and the network again and goes
  // on where this one stopped. Until then the container is listed as
  // Unknown, "Deleting".
  Keep(&first, released);
  if (first.ok()) Keep(&first, RemoveTree(store_.ContainerDir(id)));
  return first;
}

}  // namespace berth::runtime
