// One shared scheduler for every probe: a heap of timers ordered by clock
// time and a small fixed pool of threads that run the tasks that are due
// (the blocking checks), instead of a thread per probe.
//
// Guarantees:
//  * A task runs at most once, on one pool thread, no earlier than its
//    time by the injected clock; due tasks run in order of their times
//    (ties: in order of scheduling).
//  * Cancel before a task starts means it never runs; Cancel does not wait
//    for a task that is running (the owner checks its own state when it
//    ends, as ProbeManager does with generations).
//  * At most `workers` tasks run at once; more due tasks wait their turn
//    (a slow check delays others by at most its timeout).
//  * Stop (and the destructor) lets running tasks finish, drops the rest
//    and joins the threads; Schedule after Stop is ignored.
//
// Time comes from the injected Clock. The pool threads sleep on a condition
// variable for (earliest time - clock.Now()) of real time and are woken by
// an earlier Schedule, by Wake and by Stop. With a FakeClock, create the
// pool with 0 workers and call RunDue() from the test (deterministic), or
// call Wake() after moving the clock.
//
// Thread-safe; every method may be called from any thread, tasks included.
#ifndef BERTH_CONTROLLER_PROBE_TIMER_POOL_H_
#define BERTH_CONTROLLER_PROBE_TIMER_POOL_H_

#include <cstdint>
#include <functional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/queue/clock.h"

namespace berth::controller {

class TimerPool {
 public:
  using Task = std::function<void()>;

  // `clock` must outlive the pool. `workers` threads are started at once;
  // 0: none (tasks run only in RunDue).
  TimerPool(const Clock& clock, int workers);
  ~TimerPool();
  TimerPool(const TimerPool&) = delete;
  TimerPool& operator=(const TimerPool&) = delete;

  // Runs `task` at `at` (now or in the past: as soon as a thread is free).
  // Returns a handle for Cancel (> 0), or 0 after Stop.
  uint64_t Schedule(absl::Time at, Task task) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the task if it has not started; no-op otherwise.
  void Cancel(uint64_t handle) ABSL_LOCKS_EXCLUDED(mu_);
  // Makes the threads re-read the clock (after moving a FakeClock).
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs, in the calling thread, every task due now (and those they
  // schedule that are due too); returns how many ran.
  int RunDue() ABSL_LOCKS_EXCLUDED(mu_);
  // Tasks waiting (not running).
  size_t Pending() const ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work();
  // The first task due at `now`, removed from the heap; empty when none.
  Task PopDue(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::set<std::pair<absl::Time, uint64_t>> heap_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::pair<absl::Time, Task>> tasks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_TIMER_POOL_H_
