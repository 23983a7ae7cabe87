// The kubelet's CrashLoopBackOff rule as a pure, clock-free class: the delay
// before restarting an exited container doubles on each restart from
// `initial` up to `max`, and goes back to `initial` when the container had run
// for at least `reset_after` before it exited.
//
// Header-only on purpose (no .cc in the build).
#ifndef BERTH_CONTROLLER_CRASH_LOOP_BACKOFF_H_
#define BERTH_CONTROLLER_CRASH_LOOP_BACKOFF_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace berth::controller {

// Per-key (e.g. "namespace/name") restart backoff. Times are passed in, so it
// needs no clock. Not thread-safe: the owner synchronizes.
class RestartBackoff {
 public:
  struct Options {
    absl::Duration initial = absl::Seconds(10);
    absl::Duration max = absl::Minutes(5);
    // A run at least this long resets the delay to `initial`.
    absl::Duration reset_after = absl::Minutes(10);
  };

  RestartBackoff() : RestartBackoff(Options()) {}
  explicit RestartBackoff(Options options) : options_(options) {}

  // Records that `key`'s container, started at `started_at`, exited at
  // `finished_at`, and returns how long to wait after `finished_at` before
  // starting it again:
  //  * `initial` for the first exit of a key (or after Forget), or when
  //    finished_at - started_at >= reset_after;
  //  * otherwise min(2 * previous delay, max).
  // finished_at before started_at counts as a run of zero length.
  absl::Duration OnExit(const std::string& key, absl::Time started_at,
                        absl::Time finished_at) {
    auto [it, inserted] = delays_.try_emplace(key, options_.initial);
    if (inserted || finished_at - started_at >= options_.reset_after) {
      it->second = options_.initial;
    } else {
      const absl::Duration doubled = it->second * 2;  // Saturates.
      it->second = doubled > options_.max ? options_.max : doubled;
    }
    return it->second;
  }

  // Drops `key`'s state (the container was deleted or its spec replaced).
  void Forget(const std::string& key) { delays_.erase(key); }

  // The delay returned by the last OnExit for `key`; zero if none since
  // construction or Forget.
  absl::Duration Current(const std::string& key) const {
    auto it = delays_.find(key);
    return it == delays_.end() ? absl::ZeroDuration() : it->second;
  }

 private:
  Options options_;
  absl::flat_hash_map<std::string, absl::Duration> delays_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_CRASH_LOOP_BACKOFF_H_
