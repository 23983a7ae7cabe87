// Processes, file descriptors and files: the small POSIX layer under the
// runtime. Everything returns absl::Status with the failing action named.
#ifndef BERTH_RUNTIME_SYS_PROCESS_H_
#define BERTH_RUNTIME_SYS_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/sys/unique_fd.h"

namespace berth::runtime {

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (an absolute path) and waits for it, killing it with SIGKILL
// when `timeout` passes (then kDeadlineExceeded). Its stdin holds `input`
// (at most 64 KiB), /dev/null when empty.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, absl::string_view input = {});

// The first executable `name` in $PATH, then in /usr/sbin, /usr/bin, /sbin
// and /bin; "" when there is none.
std::string FindExecutable(absl::string_view name);

// Where a spawned program's standard output or error goes.
inline constexpr int kDevNull = -1;
inline constexpr int kInherit = -2;

struct SpawnOptions {
  int stdin_fd = kDevNull;   // a descriptor or kDevNull
  int stdout_fd = kDevNull;  // a descriptor, kDevNull or kInherit
  int stderr_fd = kDevNull;
  int fd3 = -1;  // passed to the program as descriptor 3 when >= 0
};

// Starts argv[0] (an absolute path) with stdin from /dev/null, an empty
// signal mask, default signal dispositions, and the descriptors of `options`; everything else the
// caller opened close-on-exec stays closed. Returns the child's pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

// Like RunCommand, but a non-zero exit becomes kInternal carrying the output.
absl::Status RunCommandOk(const std::vector<std::string>& argv, absl::Duration timeout);

// The kernel's start time of `pid` (field 22 of /proc/<pid>/stat, in clock
// ticks since boot), or 0 when no such process exists or it is a zombie.
// Together with the pid it names a process for good: pids get reused.
uint64_t ProcessStartTime(pid_t pid);

// This boot's id (/proc/sys/kernel/random/boot_id): start times and pids
// mean nothing across a reboot.
const std::string& CurrentBootId();

// The command name of `pid` (/proc/<pid>/comm), empty if gone.
std::string ProcessName(pid_t pid);

// True when `pid` exists, is not a zombie and started at `start_time`.
bool ProcessIsAlive(pid_t pid, uint64_t start_time);

// A pidfd for `pid` if it still is the process that started at
// `start_time`; kNotFound otherwise.
absl::StatusOr<UniqueFd> OpenPidFd(pid_t pid, uint64_t start_time);

// Sends `signal` through a pidfd (no pid-reuse race).
absl::Status SignalPidFd(const UniqueFd& pidfd, int signal);

// Waits until the process behind `pidfd` has exited; false on timeout.
bool WaitPidFd(const UniqueFd& pidfd, absl::Duration timeout);

enum class Durability {
  // Atomic against a crash of the process (temporary file, rename): readers
  // see the old or the new content, never a mix.
  kAtomic,
  // Also survives a power loss: fsync of the file and of the directory.
  kDurable,
};

// Writes `content` to `path` through a temporary file beside it.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view content,
                             Durability durability = Durability::kDurable);

// Reads a whole file; kNotFound when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = 1 << 20);

// Removes `path` and everything below it without following symlinks and
// without crossing into mounted file systems (a mount below is an error).
// Missing `path` is fine.
absl::Status RemoveTree(const std::string& path);

// Creates `path` and its parents with `mode`.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// True if `path` (a symlink not followed) is a mount point. Asks the path
// itself (statx's STATX_ATTR_MOUNT_ROOT, Linux 5.8), so the cost does not
// grow with the mount table; on a kernel that does not report it, looks the
// path up in /proc/self/mountinfo.
bool IsMountPoint(const std::string& path);

// The mount points at or below `path`, found by walking the tree (symlinks
// not followed) and asking each entry, without descending into a mount
// found: mounts stacked below a mount point are not listed, as unmounting
// it (MNT_DETACH) takes them along. Falls back to MountsUnder where statx
// does not report mount roots. The hot paths (teardown, RemoveTree) use
// this: /proc/self/mountinfo is as long as the node's mounts, one overlay a
// container, and the kernel formats every line of it for each read.
std::vector<std::string> MountRootsUnder(const std::string& path);

// Lists mount points at or below `prefix` (from /proc/self/mountinfo): every
// one, also those stacked or hidden below another. For checks that must not
// depend on the walk above (the tests' leak checks, recovery at start).
std::vector<std::string> MountsUnder(const std::string& prefix);

// Absolute path of the running executable's directory.
std::string SelfExeDir();

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_SYS_PROCESS_H_
