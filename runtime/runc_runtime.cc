// RuncRuntime's front door: Open (with the overlay probe and recovery),
// the per-id locks, Start, and the state read from the files alone. Create
// is in runc_create.cc, Stop and Delete in runc_teardown.cc, recovery in
// runc_recovery.cc, the monitor's side in monitor_client.cc.
#include "runtime/runc_runtime.h"

#include <sys/resource.h>
#include <unistd.h>

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/monitor_client.h"
#include "runtime/names.h"
#include "runtime/runc_internal.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {

const char* RootfsModeName(RootfsMode mode) {
  return mode == RootfsMode::kOverlay ? "overlay" : "copy";
}

absl::StatusOr<RootfsMode> ParseRootfsMode(absl::string_view name) {
  if (name == "overlay") return RootfsMode::kOverlay;
  if (name == "copy") return RootfsMode::kCopy;
  return absl::InvalidArgumentError(
      absl::StrCat("rootfs mode \"", name, "\": must be \"overlay\" or \"copy\""));
}

namespace {

uint64_t SoftFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  return rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : rl.rlim_cur;
}

}  // namespace

RuncRuntime::RuncRuntime(RuncRuntimeOptions options)
    : options_(std::move(options)),
      store_(options_.state_dir),
      runc_(options_.runc_binary, options_.runc_root),
      cni_(network::CniOptions{options_.cni_bin_dir, options_.cni_plugin_timeout}),
      live_(LiveHandles::BudgetFor(SoftFileLimit())) {}

absl::StatusOr<std::unique_ptr<RuncRuntime>> RuncRuntime::Open(RuncRuntimeOptions options) {
  if (options.runc_binary.empty()) options.runc_binary = oci::FindRunc();
  if (options.runc_binary.empty()) {
    return absl::FailedPreconditionError("open runtime: runc not found on PATH");
  }
  if (options.monitor_binary.empty()) options.monitor_binary = DefaultMonitorPath();
  if (access(options.monitor_binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("open runtime: monitor ", options.monitor_binary, " is not executable"));
  }
  if (options.cgroup_parent.empty() || options.cgroup_parent[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("open runtime: cgroup parent \"",
                                                   options.cgroup_parent, "\" must be absolute"));
  }
  auto rt = std::unique_ptr<RuncRuntime>(new RuncRuntime(std::move(options)));
  if (absl::Status s = rt->store_.Init(); !s.ok()) return WithContext("open", "store", "init", s);
  if (rt->options_.rootfs_mode == RootfsMode::kOverlay) {
    // In the state dir: the upper directories live there. A probe left by a
    // crash is not a container id: Recover removes it.
    if (absl::Status s = snapshot::ProbeOverlay(rt->options_.state_dir); !s.ok()) {
      spdlog::warn(
          "open runtime: overlay unavailable ({}); container root file systems will be "
          "copies of their layers",
          std::string(s.message()));
      rt->options_.rootfs_mode = RootfsMode::kCopy;
    }
  }
  if (absl::Status s = MakeDirs(rt->options_.runc_root, 0700); !s.ok()) return s;
  rt->Recover();
  return rt;
}

RuncRuntime::IdLock::IdLock(RuncRuntime* rt, const std::string& id) : rt_(rt) {
  {
    absl::MutexLock l(&rt_->locks_mu_);
    it_ = rt_->locks_.try_emplace(id).first;
    ++it_->second.users;
  }
  it_->second.mu.Lock();
}

RuncRuntime::IdLock::~IdLock() {
  it_->second.mu.Unlock();
  absl::MutexLock l(&rt_->locks_mu_);
  if (--it_->second.users == 0) rt_->locks_.erase(it_);
}

absl::Status RuncRuntime::Start(const std::string& id) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  IdLock l(this, id);
  absl::StatusOr<ContainerRecord> record = store_.Read(id);
  if (!record.ok()) return record.status();
  if (record->phase != RecordPhase::kCreated) {
    return absl::FailedPreconditionError(absl::StrCat(
        "start container ", id, ": it is ", RecordPhaseName(record->phase), ", not created"));
  }
  if (store_.ReadExit(id).has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("start container ", id, ": it exited before it was started"));
  }
  // AlreadyExists: a start interrupted (by a crash of Berth) after the
  // program began and before it was recorded; record it now.
  if (absl::Status s = runc_.Start(id, record->pid, record->pid_start_time);
      !s.ok() && !absl::IsAlreadyExists(s)) {
    return s;
  }
  record->phase = RecordPhase::kStarted;
  record->started_at = absl::Now();
  return store_.Write(*record);
}

absl::StatusOr<ContainerStatus> RuncRuntime::State(const std::string& id) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  return ReadState(id);
}

absl::StatusOr<ContainerStatus> RuncRuntime::ReadState(const std::string& id) const {
  // Every file read here is replaced atomically, so this needs no lock and
  // never waits for a Stop or Delete in progress.
  absl::StatusOr<RecordSummary> record = store_.ReadSummary(id);
  if (!record.ok()) return record.status();
  ContainerStatus st;
  st.id = id;
  st.labels = std::move(record->labels);
  st.annotations = record->Annotations();
  st.created_at = record->created_at;
  st.started_at = record->started_at;
  st.log_path = store_.LogFile(id);
  st.ip = record->ip;
  if (record->phase == RecordPhase::kCreating || record->phase == RecordPhase::kDeleting) {
    st.state = ContainerState::kUnknown;
    st.reason = record->phase == RecordPhase::kCreating ? "Creating" : "Deleting";
    return st;
  }
  std::optional<ExitRecord> exit = store_.ReadExit(id);
  if (!exit.has_value() && !live_.Alive(id, record->pid, record->pid_start_time)) {
    if (ProcessIsAlive(record->monitor_pid, record->monitor_start_time)) {
      // Exited; the monitor is still draining its output and will write
      // the exit file.
      st.state = ContainerState::kUnknown;
      st.reason = "Exiting";
      return st;
    }
    exit = store_.ReadExit(id);  // written just before the monitor ended
    if (!exit.has_value()) {
      st.state = ContainerState::kStopped;
      st.reason = "ExitCodeLost";
      return st;
    }
  }
  if (exit.has_value()) {
    st.state = ContainerState::kStopped;
    st.exit_code = exit->exit_code;
    st.finished_at = exit->finished_at;
    st.oom_killed = exit->oom_killed;
    st.reason = exit->oom_killed ? "OOMKilled" : exit->exit_code == 0 ? "Completed" : "Error";
    return st;
  }
  st.pid = record->pid;
  if (record->phase == RecordPhase::kCreated) {
    st.state = ContainerState::kCreated;
  } else {
    st.state =
        live_.Frozen(id, record->cgroups_path) ? ContainerState::kPaused : ContainerState::kRunning;
  }
  return st;
}

absl::StatusOr<std::vector<ContainerStatus>> RuncRuntime::List() {
  std::vector<ContainerStatus> out;
  std::set<std::string> listed;
  for (const std::string& id : store_.ListEntries()) {
    if (!ValidateContainerId(id).ok()) continue;
    absl::StatusOr<ContainerStatus> st = ReadState(id);
    if (st.ok()) {
      listed.insert(id);
      out.push_back(*std::move(st));
    }
  }
  live_.Retain(listed);  // a directory removed behind Berth's back
  return out;
}

absl::StatusOr<std::vector<std::string>> RuncRuntime::ListIds() {
  std::vector<std::string> ids;
  for (std::string& id : store_.ListEntries()) {
    if (ValidateContainerId(id).ok()) ids.push_back(std::move(id));
  }
  return ids;
}

}  // namespace berth::runtime
