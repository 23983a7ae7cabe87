// Periodic: a task run every period on a thread of its own — berthd's full
// resync and image garbage collection.
//
// The first run is one period after Start; each run is followed by a full
// period (the next is timed from its end). RunNow runs the task as soon as
// the thread is free and restarts the period from there (SIGHUP). Runs never
// overlap. Stop waits for a run in progress and joins the thread; no run
// starts after it returns.
//
// Times are read from the injected clock. A FakeClock does not wake the
// thread when it moves: call Wake() after Advance/Set so it looks again.
#ifndef BERTH_CONTROLLER_QUEUE_PERIODIC_H_
#define BERTH_CONTROLLER_QUEUE_PERIODIC_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/queue/clock.h"

namespace berth::controller {

class Periodic {
 public:
  // `clock` must outlive this object; `period` must be positive.
  Periodic(absl::Duration period, std::function<void()> task, const Clock& clock);
  ~Periodic();  // Stop()

  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void Start();
  void RunNow() ABSL_LOCKS_EXCLUDED(mu_);
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  // Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const absl::Duration period_;
  const std::function<void()> task_;
  const Clock& clock_;
  absl::Mutex mu_;
  bool now_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Counts Wake calls, so that a waiting Loop looks at the clock again.
  int wakes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_QUEUE_PERIODIC_H_
