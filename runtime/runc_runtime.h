// The Runtime on runc: a berth-monitor per container, state on disk, and
// recovery from that state and runc's after a restart.
//
// Defined by concern (containerd's core/runtime/v2 as the model):
// runc_runtime.cc (Open, locks, Start, State, List), runc_create.cc (the
// create transaction), runc_teardown.cc (Stop, Delete, teardown),
// runc_recovery.cc (recovery at Open), runc_network.cc (CNI networking),
// monitor_client.h (berth-monitor's spawn and sync protocol, runtime side).
#ifndef BERTH_RUNTIME_RUNC_RUNTIME_H_
#define BERTH_RUNTIME_RUNC_RUNTIME_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/live_handles.h"
#include "runtime/network/cni.h"
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
  // One directory per container (StateStore); created by Open.
  std::string state_dir = "/var/lib/berth/containers";
  std::string runc_root = "/run/berth/runc";  // owned by this runtime alone
  std::string runc_binary;                    // empty: found on PATH
  std::string monitor_binary;                 // empty: beside the executable, else installed
  // Absolute cgroup path: containers run in <cgroup_parent>/<id>, their
  // monitors all in <cgroup_parent>/_monitors.
  std::string cgroup_parent = "/berth";
  // How long Create waits for the monitor's word on `runc create`.
  absl::Duration create_timeout = absl::Seconds(30);
  // How long killed processes may take to end (Stop after its SIGKILL, a
  // teardown, a rollback) before that is reported as an error.
  absl::Duration cleanup_timeout = absl::Seconds(10);
  RootfsMode rootfs_mode = RootfsMode::kOverlay;
  // CNI (https://www.cni.dev/docs/spec/, 1.0.0) for containers not on the
  // host network: plugins in cni_bin_dir (':'-separated, as CNI_PATH), the
  // network of the first *.conflist in cni_conf_dir in lexical order. No
  // such file: those containers get a network namespace with loopback only,
  // and a spec with ports is refused.
  std::string cni_bin_dir = "/usr/lib/cni";
  std::string cni_conf_dir = "/etc/cni/net.d";
  // Network namespaces, bind-mounted nsfs files (containerd's /run/netns).
  std::string netns_dir = "/run/berth/netns";
  // How long one CNI plugin call may take before it is killed.
  absl::Duration cni_plugin_timeout = absl::Seconds(30);
  FaultInjector* faults = nullptr;  // not owned; tests only (see kCreateSteps)
};

// What Open found and did.
struct RecoveryReport {
  std::vector<std::string> adopted;          // created or started, left untouched
  std::vector<std::string> rolled_back;      // caught half-created or half-deleted
  std::vector<std::string> orphans_removed;  // directories or runc state with no record
  std::vector<std::string> errors;
};

// Thread-safe: calls for one id are serialized by a lock of that id, calls
// for different ids run in parallel. State and List take no lock (every
// file they read is replaced atomically) and never wait for a Stop or
// Delete in progress. Everything the runtime knows is on disk (the state
// directory and runc's root): a new instance opened on the same options
// after a crash, even a kill -9 in the middle of a call, carries on from
// there (see Open).
class RuncRuntime : public Runtime {
 public:
  // Prepares the directories and recovers what an earlier process left:
  // created and started containers are adopted untouched (their monitors
  // kept running and record their exits); containers caught half-created
  // or half-deleted are torn down; directories, runc state and monitor
  // cgroups with no record are removed. What it did is in recovery().
  // kFailedPrecondition when runc is not found or the monitor is not
  // executable, kInvalidArgument for a relative cgroup parent.
  static absl::StatusOr<std::unique_ptr<RuncRuntime>> Open(RuncRuntimeOptions options);

  // Asks options.faults at each of kCreateSteps. kFailedPrecondition when a
  // layer is not a directory; kAlreadyExists when the id has a directory.
  // A container not on the host network joins the CNI network (when
  // cni_conf_dir has one: its own namespace file in netns_dir, CNI ADD, its
  // address in the status) and gets /etc/hostname, /etc/hosts and
  // /etc/resolv.conf of its own. kFailedPrecondition for ports without a
  // CNI network, and for a host port (same port and protocol, overlapping
  // host IP) another container in this runtime publishes, naming it.
  absl::Status Create(const ContainerSpec& spec) override;
  // kFailedPrecondition unless the container is created and has not
  // exited. A start interrupted by a crash after the program began is
  // recognised and recorded.
  absl::Status Start(const std::string& id) override;
  absl::Status Stop(const std::string& id, absl::Duration timeout) override;
  // Runs CNI DEL (with the network and result cached at ADD) and removes
  // the namespace file; a failed DEL keeps the record for a retry. Also
  // cleans up runc state, cgroups and a namespace file of an id with no
  // directory.
  // kFailedPrecondition for a record written by a newer version: that is
  // left alone.
  absl::Status Delete(const std::string& id) override;
  // The reason of an unknown state is "Creating" or "Deleting" (a call in
  // progress, or one a crash interrupted), or "Exiting" (the monitor is
  // still writing the exit); a stopped container whose exit was never
  // recorded has the reason "ExitCodeLost" and no exit code.
  absl::StatusOr<ContainerStatus> State(const std::string& id) override;
  // Every container with a valid id and a readable record.
  absl::StatusOr<std::vector<ContainerStatus>> List() override;
  // The state directory's entries (one readdir), as List's ids.
  absl::StatusOr<std::vector<std::string>> ListIds() override;
  // runc_exec.cc: `runc exec` with --pid-file and --log in a directory of
  // its own below the container's (exec.XXXXXX, removed with the session,
  // or with the container after a crash). A TTY session gets TERM=xterm
  // unless options.env sets TERM.
  absl::StatusOr<std::unique_ptr<ExecSession>> Exec(const std::string& id,
                                                    const ExecOptions& options) override;

  const RecoveryReport& recovery() const { return recovery_; }
  // Where the container `id` runs: <cgroup_parent>/<id> (its cgroupsPath;
  // runtime/cgroup_stats.h reads it).
  std::string CgroupPathFor(const std::string& id) const {
    return options_.cgroup_parent + "/" + id;
  }
  // The mode in use: the option's, or kCopy after an overlay probe failed.
  RootfsMode rootfs_mode() const { return options_.rootfs_mode; }

 private:
  // What a teardown acts on: what is known of a container's processes and
  // places, 0 / empty where unknown. Set the fields by name; see
  // RecordedTarget and BareTarget.
  struct TeardownTarget {
    std::string id;
    std::string cgroups_path;
    // The monitor; with its start time, so that a reused pid is left alone.
    pid_t monitor_pid = 0;
    uint64_t monitor_start_time = 0;
    // The container's init.
    pid_t pid = 0;
    uint64_t pid_start_time = 0;
    // No PID namespace of its own: every process in its cgroup is killed.
    bool host_pid = false;
    // runc's state is gone already (KillAndForget skips `runc delete`;
    // TearDown finds this out itself).
    bool runc_deleted = false;
    // The monitor wrote its exit file and is gone: it reaped its own
    // children first, so nothing of its process group is left to look for.
    bool monitor_done = false;
    // An earlier teardown of the id failed or was cut short (its record
    // says "deleting"): the monitor may have been killed after writing its
    // exit file, with members of its group left, so monitor_done is not
    // inferred.
    bool after_failed_teardown = false;
  };

  explicit RuncRuntime(RuncRuntimeOptions options);

  // Where every monitor runs: <cgroup_parent>/_monitors ("_" is in no
  // container id). One cgroup for all, out of berthd's own: none is made or
  // removed a container (each of those walks its siblings in every v1
  // hierarchy). It is removed when the last monitor has left it.
  std::string MonitorsCgroup() const { return options_.cgroup_parent + "/_monitors"; }
  // Moves a new monitor into MonitorsCgroup, making it when it is not there.
  absl::Status MoveToMonitorsCgroup(pid_t monitor);
  // Removes MonitorsCgroup if no process is left in it.
  void RemoveMonitorsCgroupIfEmpty();
  // Kills what a monitor that is gone (killed, so without its exit file)
  // left in MonitorsCgroup: the members of its process group (runc; runc
  // init before runc moved it). Only when no process has the monitor's pid:
  // then, while any member of its group is left, no new process can take
  // that pid, and the group id is still the monitor's.
  absl::Status KillLeftoversOfGoneMonitor(pid_t monitor);
  // Kills the members of dead monitor `monitor`'s process group left in
  // MonitorsCgroup and waits until none is left (options_.cleanup_timeout).
  // The caller knows the monitor is dead (a zombie, or reaped with no
  // process having its pid).
  absl::Status KillMonitorGroup(pid_t monitor);

  // runc_runtime.cc: the state as callers see it, from the files alone.
  absl::StatusOr<ContainerStatus> ReadState(const std::string& id) const;

  // runc_create.cc: the create transaction. Each step acquires a resource,
  // arms an absl::Cleanup that undoes it and asks options_.faults by the
  // step's name (kCreateSteps); commit cancels every cleanup. The caller
  // holds the id's lock.
  absl::Status CreateLocked(const ContainerSpec& spec);
  // The overlay's mount options for `spec`'s root file system, which its
  // monitor mounts for runc alone; empty when the layers are copied instead
  // (rootfs mode copy, or options too long for one mount).
  std::string OverlayOptionsFor(const ContainerSpec& spec) const;

  // runc_network.cc: networking for Create, Delete and recovery.
  // The CNI network a container joins: nullopt on the host network or
  // when there is none (then kFailedPrecondition for a spec with ports).
  absl::StatusOr<std::optional<network::CniNetwork>> NetworkFor(const ContainerSpec& spec) const;
  // kFailedPrecondition when another container's record publishes one of
  // spec's host ports. The caller holds ports_mu_ until its own record is
  // written.
  absl::Status CheckHostPorts(const ContainerSpec& spec) const;
  // CNI ADD of record->netns_path, with the cache DEL needs written first;
  // fills record->ip. ReleaseNetwork undoes it (and the namespace file),
  // also half-done.
  absl::Status AddToNetwork(const network::CniNetwork& net, ContainerRecord* record);
  // CNI DEL with the cached network and result (the current network when
  // no cache is left but a namespace file is), then the namespace file
  // and the cache go; both kept when DEL fails. OK when there is nothing.
  absl::Status ReleaseNetwork(const std::string& id);
  std::string NetnsPathFor(const std::string& id) const { return options_.netns_dir + "/" + id; }

  // runc_teardown.cc: stop and teardown.
  // Everything of `id` as its record says.
  static TeardownTarget RecordedTarget(const std::string& id, const ContainerRecord& record);
  // `id` with no record: its cgroups where Create puts them, nothing else.
  TeardownTarget BareTarget(const std::string& id) const;
  // Fills an unknown monitor pid from the pid file the monitor wrote itself,
  // and an unknown start time from the process, if it is the monitor of
  // this container (MonitorStartTimeIfOurs).
  void FindMonitor(TeardownTarget* target) const;
  // Kills the monitor's process group and whatever is left in the
  // container's cgroups, and removes runc's state (unless
  // `target.runc_deleted`) with runc's directory. Leaves the container's
  // directory in the state dir alone.
  // Safe on partial state; returns the first error, having tried all.
  absl::Status KillAndForget(const TeardownTarget& target);
  // Everything: kills the container (letting its monitor record the exit),
  // then KillAndForget, the rootfs mount and the directory. Safe on partial
  // state; returns the first error, having tried all.
  absl::Status TearDown(const TeardownTarget& target);

  // runc_exec.cc: at Open, for an adopted container: the exec sessions a
  // crashed process left (their exec.* directories) have their process
  // trees killed (those of their processes still in the container's
  // cgroup) and their directories removed.
  void EndOrphanedExecs(const std::string& id, const ContainerRecord& record);

  // runc_recovery.cc: at Open, adopts what is created or started, rolls
  // back what a crash caught half-created or half-deleted, and removes
  // orphans (directories without a record, runc state or monitor cgroups
  // without a directory); fills recovery_.
  void Recover();

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
  network::CniClient cni_;
  // The relist's descriptors (a pidfd and the freezer file per container);
  // ReadState is const, and what it keeps open is a cache.
  mutable LiveHandles live_;
  // Held from the host-port check of a create to its first record.
  absl::Mutex ports_mu_;
  // Held by a move into MonitorsCgroup and by its removal when empty, so
  // that the removal cannot come between the move's mkdir and its write.
  absl::Mutex monitors_cgroup_mu_;
  // MonitorsCgroup was made (or found) by this runtime and not removed
  // since: a move only writes the pid.
  bool monitors_cgroup_made_ ABSL_GUARDED_BY(monitors_cgroup_mu_) = false;

  absl::Mutex locks_mu_;
  std::map<std::string, IdMutex> locks_ ABSL_GUARDED_BY(locks_mu_);
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_RUNC_RUNTIME_H_
