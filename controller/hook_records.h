// Which lifecycle hooks have begun for which container, kept on disk so
// that a berthd killed (kill -9) and started again never runs one twice for
// the same container.
//
// A container is its id and its creation time (the runtime's record keeps
// it): the next container of an id (a restart, a spec change) starts with
// no hook begun. The record is written (atomically, durably) before the hook
// runs, so a hook berthd died in counts as run; kubelet does the same in
// effect (it never runs a postStart again for a running container). One
// file per id, <dir>/<id>: {"createdAt": <unix ns>, "hooks": ["postStart",
// "preStop"]}.
#ifndef BERTH_CONTROLLER_HOOK_RECORDS_H_
#define BERTH_CONTROLLER_HOOK_RECORDS_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::controller {

enum class Hook { kPostStart, kPreStop };

class HookRecords {
 public:
  // `dir` is created when first needed; "" keeps the records in memory
  // only (tests, or a daemon without a state directory).
  explicit HookRecords(std::string dir) : dir_(std::move(dir)) {}

  // True when `hook` has not begun for the container (id, created_at) and is
  // now recorded as begun; false when it had begun (it ran, or berthd died
  // while it ran). A record that cannot be written is logged and counts as
  // written (true): the hook runs. Thread-safe.
  bool Begin(const std::string& id, absl::Time created_at, Hook hook);

  // Drops the record of `id` (its container is deleted). Thread-safe.
  void Forget(const std::string& id);

 private:
  struct Record {
    int64_t created_at_ns = 0;
    std::set<std::string> hooks;
  };
  Record Read(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  absl::Mutex mu_;
  std::map<std::string, Record> memory_ ABSL_GUARDED_BY(mu_);  // dir_ == "" only
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_HOOK_RECORDS_H_
