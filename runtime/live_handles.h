// LiveHandles: the two descriptors per container that the relist's two
// questions need, kept open: a pidfd of the container's process (is it
// alive?) and its cgroup's freezer file (is it paused?). Asked of every
// container at every relist, they then cost one poll(2) and one pread(2),
// with no path lookup and no /proc/<pid>/stat.
//
// Guarantees:
//  * Alive(id, pid, start_time) answers as ProcessIsAlive(pid, start_time).
//    The pidfd is opened at the first question and checked against the
//    start time after opening, so a reused pid is never taken for the
//    process; from then on it refers to that process only (readable once it
//    has exited). A different (pid, start_time) for the id replaces it.
//  * Frozen(id, cgroups_path) answers as CgroupIsFrozen(cgroups_path). A
//    kept file that can no longer be read (its cgroup was removed) is
//    closed, and the answer is read by path.
//  * At most `max_fds` descriptors are held; beyond that, answers are read
//    by path as without this class (the same answers, more system calls).
//    Every descriptor is close-on-exec.
//  * Forget(id) closes the id's descriptors; Retain(ids) those of every id
//    not in `ids`. Thread-safe.
#ifndef BERTH_RUNTIME_LIVE_HANDLES_H_
#define BERTH_RUNTIME_LIVE_HANDLES_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "runtime/sys/unique_fd.h"

namespace berth::runtime {

class LiveHandles {
 public:
  explicit LiveHandles(size_t max_fds) : max_fds_(max_fds) {}

  // A budget for a process whose descriptor limit is `soft_limit`: half of
  // it, the rest left for everything else.
  static size_t BudgetFor(uint64_t soft_limit) { return static_cast<size_t>(soft_limit / 2); }

  bool Alive(const std::string& id, pid_t pid, uint64_t start_time);
  bool Frozen(const std::string& id, const std::string& cgroups_path);
  void Forget(const std::string& id);
  void Retain(const std::set<std::string>& ids);

  // Descriptors held now.
  size_t open_fds() const;

 private:
  struct Entry {
    pid_t pid = 0;
    uint64_t start_time = 0;
    UniqueFd pidfd;
    bool exited = false;  // the pidfd said so: it stays so
    std::string cgroups_path;
    UniqueFd freezer;
  };
  void Close(UniqueFd& fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_fds_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  size_t fds_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_LIVE_HANDLES_H_
