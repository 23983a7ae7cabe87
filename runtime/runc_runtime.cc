#include "runtime/runc_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runtime/names.h"
#include "runtime/oci/oci_config.h"
#include "runtime/snapshot/copy_layers.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

// The monitor reports its pid as its first action; this bounds that wait
// independently of the create timeout, so a timed-out create still learns
// which process group to kill.
constexpr absl::Duration kMonitorHelloTimeout = absl::Seconds(5);
// After its container exited, the monitor drains the pipes (up to 2 s),
// kills what is left without a PID namespace of its own (up to 10 s) and
// writes the exit file.
constexpr absl::Duration kExitRecordWait = absl::Seconds(15);

absl::Status WithContext(absl::string_view action, const std::string& id, absl::string_view step,
                         const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(action, " container ", id, ": ", step, ": ",
                                             s.message()));
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Lines of JSON from the monitor's sync socket.
class SyncReader {
 public:
  explicit SyncReader(UniqueFd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }

  absl::StatusOr<json> ReadLine(absl::Time deadline) {
    while (true) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        json j = json::parse(buf_.substr(0, nl), nullptr, false);
        buf_.erase(0, nl + 1);
        if (j.is_discarded() || !j.is_object()) {
          return absl::InternalError("monitor sent a malformed sync message");
        }
        return j;
      }
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError("no answer from the monitor in time");
      }
      pollfd p{fd_.get(), POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "poll monitor sync socket");
      if (r <= 0) continue;
      char chunk[1024];
      ssize_t n = read(fd_.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::ErrnoToStatus(errno, "read monitor sync socket");
      if (n == 0) return absl::InternalError("monitor exited without reporting");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  UniqueFd fd_;
  std::string buf_;
};

// Fields of the monitor's sync messages; 0 / "" when absent or mistyped.
int IntField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}
std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// berth-monitor from its spawn until it is told to go (monitor.h has the
// protocol): the monitor starts while the bundle is being prepared.
class MonitorLaunch {
 public:
  // Spawns `argv` with one end of a stream socket as fd 3.
  static absl::StatusOr<MonitorLaunch> Start(const std::vector<std::string>& argv) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return absl::ErrnoToStatus(errno, "socketpair");
    }
    UniqueFd ours(fds[0]), theirs(fds[1]);
    SpawnOptions options;
    options.stderr_fd = kInherit;  // the monitor's own early errors
    options.fd3 = theirs.get();
    absl::StatusOr<pid_t> pid = runtime::Spawn(argv, options);
    if (!pid.ok()) return pid.status();
    return MonitorLaunch(argv[0], *pid, std::move(ours));
  }

  MonitorLaunch(MonitorLaunch&& other) noexcept
      : binary_(std::move(other.binary_)),
        spawner_(std::exchange(other.spawner_, 0)),
        sync_(std::move(other.sync_)),
        monitor_pid_(other.monitor_pid_) {}
  MonitorLaunch& operator=(MonitorLaunch&&) = delete;
  ~MonitorLaunch() { ReapSpawner().IgnoreError(); }

  // Reaps the short-lived spawner (the monitor detaches from it into a
  // session of its own) and reads the monitor's first line: its pid.
  // Idempotent.
  absl::StatusOr<pid_t> Hello(absl::Time deadline) {
    if (monitor_pid_ != 0) return monitor_pid_;
    if (absl::Status s = ReapSpawner(); !s.ok()) return s;
    absl::StatusOr<json> hello = sync_.ReadLine(deadline);
    if (!hello.ok()) return hello.status();
    if (std::string error = StringField(*hello, "error"); !error.empty()) {
      return absl::InternalError(error);
    }
    monitor_pid_ = IntField(*hello, "monitor_pid");
    if (monitor_pid_ <= 0) return absl::InternalError("monitor sent no pid");
    return monitor_pid_;
  }

  // Tells the monitor to run runc create. A monitor already gone is found
  // by the next read.
  void Go() {
    static constexpr char kGo[] = "go\n";
    if (send(sync_.fd(), kGo, sizeof kGo - 1, MSG_NOSIGNAL) < 0) {
      spdlog::debug("tell monitor {} to go: {}", monitor_pid_, std::strerror(errno));
    }
  }

  SyncReader& sync() { return sync_; }

 private:
  MonitorLaunch(std::string binary, pid_t spawner, UniqueFd fd)
      : binary_(std::move(binary)), spawner_(spawner), sync_(std::move(fd)) {}

  absl::Status ReapSpawner() {
    if (spawner_ == 0) return absl::OkStatus();
    int status = 0;
    while (waitpid(spawner_, &status, 0) < 0 && errno == EINTR) {}
    spawner_ = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat(binary_, " failed to start: status ", status));
    }
    return absl::OkStatus();
  }

  std::string binary_;
  pid_t spawner_;
  SyncReader sync_;
  pid_t monitor_pid_ = 0;
};

// Start time of `pid` if it is the berth-monitor of container `id`; 0 if not.
uint64_t MonitorStartTimeIfOurs(pid_t pid, const std::string& id) {
  if (pid <= 0) return 0;
  absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"), 1 << 16);
  if (!cmdline.ok()) return 0;
  std::vector<absl::string_view> args = absl::StrSplit(*cmdline, '\0');
  bool is_monitor = !args.empty() && absl::EndsWith(args[0], "berth-monitor");
  bool same_id = false;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--id" && args[i + 1] == id) same_id = true;
  }
  return is_monitor && same_id ? ProcessStartTime(pid) : 0;
}

std::string DefaultMonitorPath() {
  std::string beside = SelfExeDir() + "/berth-monitor";
  if (access(beside.c_str(), X_OK) == 0) return beside;
  return BERTH_DEFAULT_MONITOR_PATH;
}

absl::Status Unmount(const std::string& path) {
  if (!IsMountPoint(path)) return absl::OkStatus();
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unmount ", path));
  }
  return absl::OkStatus();
}

void Keep(absl::Status* first, absl::Status s) {
  if (!s.ok() && first->ok()) *first = std::move(s);
}

}  // namespace

const char* RootfsModeName(RootfsMode mode) {
  return mode == RootfsMode::kOverlay ? "overlay" : "copy";
}

absl::StatusOr<RootfsMode> ParseRootfsMode(absl::string_view name) {
  if (name == "overlay") return RootfsMode::kOverlay;
  if (name == "copy") return RootfsMode::kCopy;
  return absl::InvalidArgumentError(
      absl::StrCat("rootfs mode \"", name, "\": must be \"overlay\" or \"copy\""));
}

RuncRuntime::RuncRuntime(RuncRuntimeOptions options)
    : options_(std::move(options)),
      store_(options_.state_dir),
      runc_(options_.runc_binary, options_.runc_root) {}

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
    return absl::InvalidArgumentError(absl::StrCat(
        "open runtime: cgroup parent \"", options.cgroup_parent, "\" must be absolute"));
  }
  auto rt = std::unique_ptr<RuncRuntime>(new RuncRuntime(std::move(options)));
  if (absl::Status s = rt->store_.Init(); !s.ok()) return WithContext("open", "store", "init", s);
  if (rt->options_.rootfs_mode == RootfsMode::kOverlay) {
    // In the state dir: the upper directories live there. A probe left by a
    // crash is not a container id: Recover removes it.
    if (absl::Status s = snapshot::ProbeOverlay(rt->options_.state_dir); !s.ok()) {
      spdlog::warn("open runtime: overlay unavailable ({}); container root file systems will be "
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

  // Step state_dir: the container's directory and its first record.
  const std::string rootfs = store_.RootfsDir(id);
  if (absl::Status s = store_.CreateDir(id); !s.ok()) return s;
  const std::string dir = store_.ContainerDir(id);
  absl::Cleanup remove_dir = [&] {
    if (absl::Status s = RemoveTree(dir); !s.ok()) spdlog::error("rollback {}: {}", id, s.ToString());
  };
  ContainerRecord record;
  record.spec = spec;
  record.phase = RecordPhase::kCreating;
  record.cgroups_path = absl::StrCat(options_.cgroup_parent, "/", id);
  record.created_at = absl::Now();
  if (absl::Status s = store_.Write(record); !s.ok()) return fail("state_dir", s);
  if (absl::Status s = fault("state_dir"); !s.ok()) return fail("state_dir", s);

  // The monitor starts now and waits while the bundle is prepared.
  std::vector<std::string> argv = {
      options_.monitor_binary, "--id", id, "--bundle", store_.BundleDir(id),
      "--runc", runc_.binary(), "--runc-root", runc_.root(),
      "--pid-file", store_.PidFile(id), "--exit-file", store_.ExitFile(id),
      "--log-file", store_.LogFile(id), "--monitor-pid-file", store_.MonitorPidFile(id),
      "--sync-fd", "3", "--log-max-bytes", std::to_string(spec.log_max_bytes),
      "--log-max-files", std::to_string(spec.log_max_files)};
  if (std::string oom = OomEventsFile(record.cgroups_path); !oom.empty()) {
    argv.insert(argv.end(), {"--oom-file", oom});
  }
  if (spec.host_pid) argv.push_back("--kill-all");
  // Unmount is a no-op before the mount, and on a copy (remove_dir removes
  // that); kill_processes runs before it.
  absl::Cleanup unmount = [&] {
    if (absl::Status s = Unmount(rootfs); !s.ok()) spdlog::error("rollback {}: {}", id, s.ToString());
  };
  absl::StatusOr<MonitorLaunch> launch = MonitorLaunch::Start(argv);
  if (!launch.ok()) return fail("monitor_spawn", launch.status());
  absl::Cleanup kill_processes = [&] {
    if (record.monitor_pid == 0) {
      // Its pid comes first on the socket (it runs nothing before "go").
      absl::StatusOr<pid_t> monitor = launch->Hello(absl::Now() + kMonitorHelloTimeout);
      if (monitor.ok()) record.monitor_pid = *monitor;
    }
    pid_t monitor = record.monitor_pid != 0 ? record.monitor_pid : store_.ReadMonitorPid(id);
    uint64_t start = record.monitor_start_time != 0 ? record.monitor_start_time
                                                    : MonitorStartTimeIfOurs(monitor, id);
    if (absl::Status s = KillAndForget(id, record.cgroups_path, monitor, start, spec.host_pid,
                                           /*runc_deleted=*/false);
        !s.ok()) {
      spdlog::error("rollback {}: {}", id, s.ToString());
    }
  };

  // Step bundle: config.json and the overlay's directories.
  for (const std::string& d : {rootfs, store_.UpperDir(id), store_.WorkDir(id)}) {
    if (absl::Status s = MakeDirs(d, 0755); !s.ok()) return fail("bundle", s);
  }
  json config = oci::BuildOciConfig(spec, {rootfs, record.cgroups_path});
  if (absl::Status s = WriteFileAtomic(store_.BundleDir(id) + "/config.json", config.dump(), Durability::kAtomic);
      !s.ok()) {
    return fail("bundle", s);
  }
  if (absl::Status s = fault("bundle"); !s.ok()) return fail("bundle", s);

  // Step rootfs_mount: the image read-only below a writable upper layer
  // (or a copy of it).
  if (absl::Status s = BuildRootfs(spec); !s.ok()) return fail("rootfs_mount", s);
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
  if (absl::Status s = MoveToCgroup(record.monitor_pid, MonitorCgroup(id)); !s.ok()) {
    spdlog::warn("container {}: monitor stays in berthd's cgroup: {}", id, s.ToString());
  }

  // Step runc_create: wait for the monitor's word on `runc create`.
  absl::StatusOr<json> created = launch->sync().ReadLine(deadline);
  if (!created.ok()) return fail("runc_create", created.status());
  if (std::string error = StringField(*created, "error"); !error.empty()) {
    return fail("runc_create", absl::InternalError(error));
  }
  record.pid = IntField(*created, "pid");
  record.pid_start_time = ProcessStartTime(record.pid);
  if (record.pid <= 0 || record.pid_start_time == 0) {
    return fail("runc_create", absl::InternalError(absl::StrCat(
                                   "container process ", record.pid, " is not running")));
  }
  if (absl::Status s = fault("runc_create"); !s.ok()) return fail("runc_create", s);

  // Step commit.
  if (absl::Status s = fault("commit"); !s.ok()) return fail("commit", s);
  record.phase = RecordPhase::kCreated;
  if (absl::Status s = store_.Write(record); !s.ok()) return fail("commit", s);
  std::move(kill_processes).Cancel();
  std::move(unmount).Cancel();
  std::move(remove_dir).Cancel();
  return absl::OkStatus();
}

absl::Status RuncRuntime::BuildRootfs(const ContainerSpec& spec) {
  const std::string rootfs = store_.RootfsDir(spec.id);
  if (options_.rootfs_mode == RootfsMode::kOverlay) {
    const std::string options = snapshot::OverlayMountOptions(
        spec.rootfs_layers, store_.UpperDir(spec.id), store_.WorkDir(spec.id));
    if (options.size() <= snapshot::kMaxMountOptionBytes) {
      if (mount("overlay", rootfs.c_str(), "overlay", MS_NODEV, options.c_str()) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("mount overlay on ", rootfs));
      }
      return absl::OkStatus();
    }
    spdlog::warn("create container {}: overlay options for {} layers take {} bytes (limit {}); "
                 "copying the layers instead",
                 spec.id, spec.rootfs_layers.size(), options.size(), snapshot::kMaxMountOptionBytes);
  }
  return snapshot::CopyLayers(spec.rootfs_layers, rootfs);
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
  const bool graceful = record->phase == RecordPhase::kStarted && record->spec.stop_signal != SIGKILL &&
                        timeout > absl::ZeroDuration();
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

absl::Status RuncRuntime::KillAndForget(const std::string& id, const std::string& cgroups_path,
                                        pid_t monitor_pid, uint64_t monitor_start_time,
                                        bool host_pid, bool runc_deleted) {
  absl::Status first;
  // The monitor leads a process group holding runc and, until runc moves
  // them, the container's processes; killing the group stops all of them.
  if (absl::StatusOr<UniqueFd> monitor = OpenPidFd(monitor_pid, monitor_start_time); monitor.ok()) {
    kill(-monitor_pid, SIGKILL);
    if (!WaitPidFd(*monitor, options_.cleanup_timeout)) {
      Keep(&first, absl::DeadlineExceededError(absl::StrCat("monitor ", monitor_pid, " survived SIGKILL")));
    }
  }
  if (host_pid) {
    absl::Status s = runc_.Kill(id, SIGKILL, /*all=*/true);
    (void)s;  // the cgroup sweep below is the backstop
  }
  if (!runc_deleted) {
    absl::Status deleted = runc_.Delete(id, /*force=*/true);
    if (!deleted.ok() && !absl::IsNotFound(deleted)) Keep(&first, deleted);
  }
  Keep(&first, KillAndRemoveCgroups(cgroups_path, options_.cleanup_timeout));
  Keep(&first, KillAndRemoveCgroups(MonitorCgroup(id), options_.cleanup_timeout));
  // The monitors' parent goes when it is empty (rmdir fails otherwise).
  for (const std::string& d : ExistingCgroupDirs(MonitorCgroup(""))) rmdir(d.c_str());
  // runc may have been killed between writing its state and finishing, or
  // while its sealed copy of itself (runc.XXXXXX) was mounted there.
  const std::string runc_dir = absl::StrCat(runc_.root(), "/", id);
  for (const std::string& m : MountsUnder(runc_dir)) Keep(&first, Unmount(m));
  Keep(&first, RemoveTree(runc_dir));
  return first;
}

absl::Status RuncRuntime::TearDown(const std::string& id, const std::string& cgroups_path,
                                   pid_t monitor_pid, uint64_t monitor_start_time,
                                   pid_t pid, uint64_t pid_start_time, bool host_pid) {
  absl::Status first;
  // Kill the container first (thawed, or it cannot die) and let the monitor
  // record the exit.
  ThawCgroups(cgroups_path);
  if (absl::StatusOr<UniqueFd> c = OpenPidFd(pid, pid_start_time); c.ok()) {
    if (host_pid) (void)runc_.Kill(id, SIGKILL, /*all=*/true);
    Keep(&first, SignalPidFd(*c, SIGKILL));
    if (absl::StatusOr<UniqueFd> m = OpenPidFd(monitor_pid, monitor_start_time); m.ok()) {
      WaitPidFd(*m, kExitRecordWait);
    } else {
      WaitPidFd(*c, options_.cleanup_timeout);
    }
  }
  // A plain delete is cheap once the container has exited; --force is the
  // fallback inside KillAndForget.
  absl::Status deleted = runc_.Delete(id, /*force=*/false);
  if (!deleted.ok() && !absl::IsNotFound(deleted)) {
    spdlog::debug("delete container {}: {}; forcing", id, deleted.ToString());
  }
  Keep(&first, KillAndForget(id, cgroups_path, monitor_pid, monitor_start_time, host_pid,
                             /*runc_deleted=*/deleted.ok() || absl::IsNotFound(deleted)));
  Keep(&first, Unmount(store_.RootfsDir(id)));
  Keep(&first, RemoveTree(store_.ContainerDir(id)));
  return first;
}

absl::Status RuncRuntime::Delete(const std::string& id) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  IdLock l(this, id);
  if (!IsDirectory(store_.ContainerDir(id))) {
    // Maybe only runc state is left (e.g. after a lost directory).
    absl::Status s = KillAndForget(id, absl::StrCat(options_.cgroup_parent, "/", id), 0, 0,
                                   /*host_pid=*/false, /*runc_deleted=*/false);
    return s.ok() ? s : WithContext("delete", id, "cleanup", s);
  }
  absl::StatusOr<ContainerRecord> record = store_.Read(id);
  absl::Status s;
  if (record.ok()) {
    record->phase = RecordPhase::kDeleting;
    if (absl::Status w = store_.Write(*record); !w.ok()) spdlog::warn("{}", w.ToString());
    s = TearDown(id, record->cgroups_path, record->monitor_pid, record->monitor_start_time,
                 record->pid, record->pid_start_time, record->spec.host_pid);
  } else if (absl::IsFailedPrecondition(record.status())) {
    return record.status();  // a newer version's record: not ours to destroy
  } else {
    pid_t monitor = store_.ReadMonitorPid(id);
    s = TearDown(id, absl::StrCat(options_.cgroup_parent, "/", id), monitor,
                 MonitorStartTimeIfOurs(monitor, id), 0, 0, false);
  }
  return s.ok() ? s : WithContext("delete", id, "cleanup", s);
}

absl::StatusOr<ContainerStatus> RuncRuntime::State(const std::string& id) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  return ReadState(id);
}

absl::StatusOr<ContainerStatus> RuncRuntime::ReadState(const std::string& id) const {
  // Every file read here is replaced atomically, so this needs no lock and
  // never waits for a Stop or Delete in progress.
  absl::StatusOr<ContainerRecord> record = store_.Read(id);
  if (!record.ok()) return record.status();
  ContainerStatus st;
  st.id = id;
  st.labels = record->spec.labels;
  st.annotations = record->spec.annotations;
  st.created_at = record->created_at;
  st.started_at = record->started_at;
  st.log_path = store_.LogFile(id);
  if (record->phase == RecordPhase::kCreating || record->phase == RecordPhase::kDeleting) {
    st.state = ContainerState::kUnknown;
    st.reason = record->phase == RecordPhase::kCreating ? "Creating" : "Deleting";
    return st;
  }
  std::optional<ExitRecord> exit = store_.ReadExit(id);
  if (!exit.has_value() && !ProcessIsAlive(record->pid, record->pid_start_time)) {
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
    st.state = CgroupIsFrozen(record->cgroups_path) ? ContainerState::kPaused
                                                    : ContainerState::kRunning;
  }
  return st;
}

absl::StatusOr<std::vector<ContainerStatus>> RuncRuntime::List() {
  std::vector<ContainerStatus> out;
  for (const std::string& id : store_.ListEntries()) {
    if (!ValidateContainerId(id).ok()) continue;
    absl::StatusOr<ContainerStatus> st = ReadState(id);
    if (st.ok()) out.push_back(*std::move(st));
  }
  return out;
}

void RuncRuntime::Recover() {
  std::set<std::string> known;
  auto note = [&](std::vector<std::string>* list, const std::string& id, const absl::Status& s) {
    list->push_back(id);
    if (!s.ok()) recovery_.errors.push_back(s.ToString());
  };
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
    if (!record.ok() && !absl::IsNotFound(record.status()) &&
        !absl::IsDataLoss(record.status())) {
      // Another version's record, or a read error: leave all of it alone.
      recovery_.errors.push_back(record.status().ToString());
      known.insert(name);
      continue;
    }
    if (!record.ok()) {
      pid_t monitor = store_.ReadMonitorPid(name);
      note(&recovery_.orphans_removed, name,
           TearDown(name, absl::StrCat(options_.cgroup_parent, "/", name), monitor,
                    MonitorStartTimeIfOurs(monitor, name), 0, 0, false));
      continue;
    }
    if (record->phase == RecordPhase::kCreating || record->phase == RecordPhase::kDeleting) {
      pid_t monitor = record->monitor_pid != 0 ? record->monitor_pid : store_.ReadMonitorPid(name);
      uint64_t start = record->monitor_start_time != 0 ? record->monitor_start_time
                                                       : MonitorStartTimeIfOurs(monitor, name);
      note(&recovery_.rolled_back, name,
           TearDown(name, record->cgroups_path, monitor, start, record->pid,
                    record->pid_start_time, record->spec.host_pid));
      continue;
    }
    known.insert(name);
    recovery_.adopted.push_back(name);
  }
  absl::StatusOr<std::vector<oci::RuncState>> listed = runc_.List();
  if (!listed.ok()) {
    recovery_.errors.push_back(listed.status().ToString());
    return;
  }
  for (const oci::RuncState& c : *listed) {
    if (known.count(c.id) != 0 || !ValidateContainerId(c.id).ok()) continue;
    known.insert(c.id);
    note(&recovery_.orphans_removed, c.id,
         KillAndForget(c.id, absl::StrCat(options_.cgroup_parent, "/", c.id), 0, 0,
                       /*host_pid=*/true, /*runc_deleted=*/false));
  }
  // Monitors of containers that have nothing else left (a crash between
  // moving the monitor and writing the record).
  for (const std::string& name : CgroupChildren(MonitorCgroup(""))) {
    if (known.count(name) != 0) continue;
    note(&recovery_.orphans_removed, name,
         KillAndRemoveCgroups(MonitorCgroup(name), options_.cleanup_timeout));
  }
  for (const std::string& d : ExistingCgroupDirs(MonitorCgroup(""))) rmdir(d.c_str());
  for (const auto& id : recovery_.rolled_back) spdlog::info("recovery: rolled back container {}", id);
  for (const auto& id : recovery_.orphans_removed) spdlog::info("recovery: removed orphan {}", id);
  for (const auto& e : recovery_.errors) spdlog::error("recovery: {}", e);
}

}  // namespace berth::runtime
