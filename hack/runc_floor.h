// The raw runc floor the benchmarks measure Berth against, in the same run:
// containers started straight from one prepared bundle with `runc run -d`
// (no monitor, no record, no per-container root file system, no cgroupsPath:
// runc picks /<id>), killed with `runc kill KILL` and removed with
// `runc delete`.
#ifndef BERTH_HACK_RUNC_FLOOR_H_
#define BERTH_HACK_RUNC_FLOOR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/container_spec.h"

namespace berth::bench {

class RuncFloor {
 public:
  // Writes <dir>/bundle/config.json for `spec` (its process, limits and
  // namespaces) over `rootfs` mounted read-only, and keeps runc's state in
  // <dir>/runc. `rootfs` must already hold the mount points runc needs
  // (/proc, /dev, /sys): runc creates missing ones in it.
  static absl::StatusOr<RuncFloor> Prepare(const std::string& dir,
                                           const runtime::ContainerSpec& spec,
                                           const std::string& rootfs);

  // `runc run -d` of containers <prefix><first> .. <prefix><first+n-1> in
  // one shell loop: the wall time of the loop.
  absl::StatusOr<absl::Duration> RunAll(const std::string& prefix, int first, int n) const;
  // `runc kill KILL` of those n, then `runc delete` of them, in shell loops:
  // the wall time.
  absl::StatusOr<absl::Duration> KillDeleteAll(const std::string& prefix, int first, int n) const;

  // `runc run -d` of one container, spawned directly: the time until runc
  // returned, i.e. until the container's program runs. With `netns_path`
  // the container joins that network namespace (its own bundle,
  // <dir>/bundle-<id>, is written before the clock starts).
  absl::StatusOr<absl::Duration> RunOne(const std::string& id,
                                        const std::string& netns_path = "") const;
  // `runc kill KILL`, then `runc delete` (retried briefly while the kill
  // lands); removes the container's own bundle if it has one.
  absl::Status KillDelete(const std::string& id) const;
  // A stop done by hand, the floor of one: `runc kill <signal>`, a wait
  // (pidfd) of up to `grace` for the container's process, `runc kill KILL`
  // and a wait if it is still there, then `runc delete`. The wall time.
  absl::StatusOr<absl::Duration> StopDelete(const std::string& id, int signal,
                                            absl::Duration grace) const;

  // A crash and what a minimal supervisor does about it, the floor of a
  // restart: SIGKILL to the container's process (looked up before the clock
  // starts), a pidfd wait for its exit, `runc delete` and `runc run -d` of
  // the same id. The wall time from the kill to the new process running.
  absl::StatusOr<absl::Duration> CrashRestart(const std::string& id) const;

  // Removes <dir> (bundle and runc's state); kFailedPrecondition (and
  // nothing removed) while runc still lists a container there.
  absl::Status Remove() const;
  // Deletes (--force) what runc still lists there, then Remove: after a
  // failed run.
  absl::Status ForceRemove() const;

  const std::string& runc() const { return runc_; }

 private:
  RuncFloor() = default;
  absl::StatusOr<absl::Duration> TimeShell(const std::string& script) const;

  std::string runc_, dir_, root_, bundle_;
};

}  // namespace berth::bench

#endif  // BERTH_HACK_RUNC_FLOOR_H_
