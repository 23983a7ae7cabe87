// Time source for the controller. Everything that reads the time takes a
// Clock& in its constructor so that tests can drive time with FakeClock
// instead of sleeping.
//
// Header-only on purpose (no clock.cc in the build).
#ifndef BERTH_CONTROLLER_QUEUE_CLOCK_H_
#define BERTH_CONTROLLER_QUEUE_CLOCK_H_

#include <chrono>
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

#include "absl/time/time.h"

namespace berth::controller {

// Abstract wall clock. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  // Current time. May be called from any thread, concurrently.
  virtual absl::Time Now() const = 0;
};

// Clock backed by absl::Now().
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// The process-wide real clock. Never destroyed (safe to use from static
// destructors and detached threads).
inline Clock& RealClock() {
  static SystemClock* const clock = new SystemClock();
  return *clock;
}

// Clock that never jumps: CLOCK_MONOTONIC as an absl::Time. For delays and
// timeouts only; its times are not wall-clock times.
class MonotonicClock final : public Clock {
 public:
  absl::Time Now() const override {
    return absl::UnixEpoch() +
           absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
};

inline Clock& SteadyClock() {
  static MonotonicClock* const clock = new MonotonicClock();
  return *clock;
}

// Manually driven clock for tests. Time only moves when Advance or Set is
// called. Thread-safe.
//
// FakeClock does not notify anyone when it moves: a component that sleeps
// until a clock time (e.g. WorkQueue::Get waiting for a delayed key) must be
// told to re-check, e.g. by calling WorkQueue::Wake() after Advance/Set.
class FakeClock final : public Clock {
 public:
  // A fixed, realistic start time (2023-11-14T22:13:20Z), so that code which
  // treats the Unix epoch or absl::InfinitePast as "unset" is not confused.
  static absl::Time DefaultStart() { return absl::FromUnixSeconds(1700000000); }

  FakeClock() : FakeClock(DefaultStart()) {}
  explicit FakeClock(absl::Time start) : now_(start) {}

  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Moves the clock by `d` (a negative `d` moves it backwards).
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

  // Sets the clock to `t` (may move it backwards).
  void Set(absl::Time t) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_QUEUE_CLOCK_H_
