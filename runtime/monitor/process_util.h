// Process plumbing for berth-monitor: detaching from the spawner and
// starting runc.
#ifndef BERTH_RUNTIME_MONITOR_PROCESS_UTIL_H_
#define BERTH_RUNTIME_MONITOR_PROCESS_UTIL_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace berth::monitor {

// Signals a monitor ignores: only SIGKILL ends it.
extern const int kIgnoredSignals[4];

// Forks. The parent _exit(0)s at once (its caller waitpid()s it); the child
// returns as a new session (and process group) leader and child subreaper,
// with kIgnoredSignals ignored, stdin/stdout/stderr on /dev/null and every
// other descriptor closed except *sync_fd, which is moved above 2 if needed
// and made close-on-exec. Returns false only in the child, with `error` set,
// or when fork() fails.
bool DetachFromSpawner(int* sync_fd, std::string* error);

// Closes every descriptor >= 3 except `keep`.
void CloseFdsExcept(int keep);

// An overlay mounted for one child alone (see SpawnChild).
struct ChildOverlay {
  std::string target;   // mount point
  std::string options;  // overlay's "lowerdir=...,upperdir=...,workdir=..."
};

// Exit status of a child whose ChildOverlay could not be mounted.
inline constexpr int kChildMountFailed = 125;

// vfork+execvp of argv[0] with the given stdout/stderr (-1: inherit), an
// empty signal mask and default dispositions for kIgnoredSignals. Stays in the
// caller's process group on purpose: killing the monitor's group must take
// the child with it. If exec fails the child writes "exec PATH: cause" to
// its stderr and exits 127.
//
// With `overlay`, the child first enters a mount namespace of its own,
// makes every mount in it a slave (what it mounts never propagates back;
// what the node unmounts still goes from it) and mounts the overlay, nodev,
// on overlay->target; the mount lives as long as that namespace or a copy
// of it (runc's container namespace is one). If any of it fails the child
// writes "berth-monitor: <step>: cause" to its stderr and exits
// kChildMountFailed.
bool SpawnChild(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd, pid_t* pid,
                std::string* error, const ChildOverlay* overlay = nullptr);

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_PROCESS_UTIL_H_
