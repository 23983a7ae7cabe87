// The cgroups of one container, on cgroup v1 (one hierarchy per controller)
// or v2 (unified). Paths are the OCI `cgroupsPath`, e.g. "/berth/web".
#ifndef BERTH_RUNTIME_SYS_CGROUPS_H_
#define BERTH_RUNTIME_SYS_CGROUPS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::runtime {

// Every directory that exists for `cgroups_path` in any mounted hierarchy.
std::vector<std::string> ExistingCgroupDirs(const std::string& cgroups_path);

// Kills every process in the container's cgroups (SIGKILL, repeated until
// they are empty or `timeout` passes) and removes the directories. Used by
// rollback and recovery when runc's own state may be missing. Absent
// directories are fine.
absl::Status KillAndRemoveCgroups(const std::string& cgroups_path, absl::Duration timeout);

// The file whose "oom_kill N" line counts OOM kills in the container's memory
// cgroup (v1 memory.oom_control, v2 memory.events); empty if no memory
// controller is mounted.
std::string OomEventsFile(const std::string& cgroups_path);

// True when the container's freezer says it is frozen (paused). Asked for
// every container at every relist, so it reads one file: the one
// FindFreezerFile names for this host's mounts (decided once).
bool CgroupIsFrozen(const std::string& cgroups_path);

// Where the freezer state of a cgroup is: `file` in the cgroup's directory
// under `mount_point`. Empty mount point: no freezer is mounted.
struct FreezerFile {
  std::string mount_point;
  std::string file;  // "freezer.state" (v1, FROZEN) or "cgroup.freeze" (v2, 1)
};

// The freezer of a mount table (/proc/self/mountinfo's format): the v1
// hierarchy that has the freezer controller, else the unified hierarchy.
FreezerFile FindFreezerFile(absl::string_view mountinfo);

// CgroupIsFrozen with the freezer given: reads `freezer`'s one file for
// `cgroups_path` and nothing else; false when it cannot be read.
bool CgroupIsFrozenAt(const FreezerFile& freezer, const std::string& cgroups_path);

// The file CgroupIsFrozen reads for `cgroups_path` ("" when no freezer is
// mounted or the path is the root), and what its content says.
std::string FreezerStatePath(const std::string& cgroups_path);
bool FreezerContentIsFrozen(absl::string_view content);

// Thaws the container's cgroups (a frozen process cannot act on a signal,
// not even SIGKILL, until thawed). Absent cgroups are fine.
void ThawCgroups(const std::string& cgroups_path);

// Pids in the container's cgroups (all hierarchies, de-duplicated).
std::vector<int> CgroupPids(const std::string& cgroups_path);

// Moves `pid` into `cgroups_path` in every mounted hierarchy, creating the
// directories. Stops at the first error (the pid may then be in some
// hierarchies only).
absl::Status MoveToCgroup(int pid, const std::string& cgroups_path);

// MoveToCgroup into directories known to be there already: only the writes
// of `pid` to each hierarchy's cgroup.procs. Fails (kNotFound when one is
// missing) at the first error.
absl::Status JoinCgroup(int pid, const std::string& cgroups_path);

// The names of the child cgroups of `cgroups_path`, in any hierarchy.
std::vector<std::string> CgroupChildren(const std::string& cgroups_path);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_SYS_CGROUPS_H_
