// The processes an exec'd program started, found in /proc, so that a call
// can make sure nothing it ran outlives it.
#ifndef BERTH_RUNTIME_EXEC_PROCESS_TREE_H_
#define BERTH_RUNTIME_EXEC_PROCESS_TREE_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace berth::runtime {

// The live (not zombie) processes of the tree of `root`: `root` itself,
// every process in the session `root` leads (runc makes each exec'd
// process a session leader, so these include children orphaned by their
// parent's exit and daemons that double-forked), and every descendant of
// `root` by parent links (including one that called setsid while its
// parent lived). Not found: a process that left the session and whose
// chain of parents to `root` was already broken.
//
// `root_start_time` (ProcessStartTime) guards against a reused pid: when a
// process `root` with another start time is alive, the result is empty.
std::vector<pid_t> ProcessTree(pid_t root, uint64_t root_start_time);

// SIGKILLs ProcessTree(root) again and again (a process may fork while it
// is being killed) until none of it is left alive; kDeadlineExceeded when
// that takes longer than `timeout`. Zombies count as gone: reaping them is
// their parent's business.
absl::Status KillProcessTree(pid_t root, uint64_t root_start_time, absl::Duration timeout);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_EXEC_PROCESS_TREE_H_
