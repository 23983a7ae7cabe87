// The Runtime on runc: a berth-monitor per container, state on disk, and
// recovery from that state and runc's after a restart.
#ifndef BERTH_RUNTIME_RUNC_RUNTIME_H_
#define BERTH_RUNTIME_RUNC_RUNTIME_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/oci/runc.h"
#include "runtime/runtime.h"
#include "runtime/state_store.h"

namespace berth::runtime {

// How a container's root file system is built from its layers.
enum class RootfsMode {
  // An overlay mount: the layers read-only below the container's own upper
  // directory. Open falls back to kCopy (with a log line) when overlay does
  // not work in the state directory (not in /proc/filesystems, or a probe
  // mount fails, e.g. on an overlay or some network file systems); a
  // container whose mount options would not fit in a page is copied too.
  kOverlay,
  // A private copy of the layers merged bottom-up with their whiteouts
  // applied (containerd's "native" snapshotter): works on any file system,
  // costs a full copy per container.
  kCopy,
};
const char* RootfsModeName(RootfsMode mode);
absl::StatusOr<RootfsMode> ParseRootfsMode(absl::string_view name);  // "overlay" or "copy"

struct RuncRuntimeOptions {
  std::string state_dir = "/var/lib/berth/containers";
  std::string runc_root = "/run/berth/runc";  // owned by this runtime alone
  std::string runc_binary;                    // empty: found on PATH
  std::string monitor_binary;                 // empty: beside the executable, else installed
  std::string cgroup_parent = "/berth";
  absl::Duration create_timeout = absl::Seconds(30);
  absl::Duration cleanup_timeout = absl::Seconds(10);
  RootfsMode rootfs_mode = RootfsMode::kOverlay;
  FaultInjector* faults = nullptr;  // not owned; tests only
};

// What Open found and did.
struct RecoveryReport {
  std::vector<std::string> adopted;      // created or started, left untouched
  std::vector<std::string> rolled_back;  // caught half-created or half-deleted
  std::vector<std::string> orphans_removed;  // directories or runc state with no record
  std::vector<std::string> errors;
};

class RuncRuntime : public Runtime {
 public:
  // Prepares the directories and recovers what an earlier process left.
  static absl::StatusOr<std::unique_ptr<RuncRuntime>> Open(RuncRuntimeOptions options);

  absl::Status Create(const ContainerSpec& spec) override;
  absl::Status Start(const std::string& id) override;
  absl::Status Stop(const std::string& id, absl::Duration timeout) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<ContainerStatus> State(const std::string& id) override;
  absl::StatusOr<std::vector<ContainerStatus>> List() override;

  const RecoveryReport& recovery() const { return recovery_; }
  // The mode in use: the option's, or kCopy after an overlay probe failed.
  RootfsMode rootfs_mode() const { return options_.rootfs_mode; }

 private:
  explicit RuncRuntime(RuncRuntimeOptions options);

  absl::Status CreateLocked(const ContainerSpec& spec);
  absl::StatusOr<ContainerStatus> ReadState(const std::string& id) const;
  // Mounts (or copies) the layers onto the bundle's rootfs directory.
  absl::Status BuildRootfs(const ContainerSpec& spec);
  // Kills the monitor's process group and whatever is left in the
  // container's cgroups, and removes runc's state (unless `runc_deleted`).
  // Safe on partial state.
  absl::Status KillAndForget(const std::string& id, const std::string& cgroups_path,
                             pid_t monitor_pid, uint64_t monitor_start_time, bool host_pid,
                             bool runc_deleted);
  // Everything: kills the container (letting its monitor record the exit),
  // then KillAndForget, the rootfs mount and the directory.
  absl::Status TearDown(const std::string& id, const std::string& cgroups_path,
                        pid_t monitor_pid, uint64_t monitor_start_time, pid_t pid,
                        uint64_t pid_start_time, bool host_pid);
  void Recover();
  // Where the monitor of `id` runs: <cgroup_parent>/_monitors/<id> ("_" is
  // in no container id).
  std::string MonitorCgroup(const std::string& id) const {
    return id.empty() ? options_.cgroup_parent + "/_monitors"
                      : options_.cgroup_parent + "/_monitors/" + id;
  }
  struct IdMutex {
    absl::Mutex mu;
    int users = 0;  // holders and waiters
  };
  // Holds the mutex of one id for its lifetime. An id's entry exists only
  // while someone holds or waits for it.
  class IdLock {
   public:
    IdLock(RuncRuntime* rt, const std::string& id);
    ~IdLock();
    IdLock(const IdLock&) = delete;
    IdLock& operator=(const IdLock&) = delete;

   private:
    RuncRuntime* rt_;
    std::map<std::string, IdMutex>::iterator it_;
  };

  RuncRuntimeOptions options_;
  StateStore store_;
  oci::Runc runc_;
  RecoveryReport recovery_;

  absl::Mutex locks_mu_;
  std::map<std::string, IdMutex> locks_ ABSL_GUARDED_BY(locks_mu_);
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_RUNC_RUNTIME_H_
