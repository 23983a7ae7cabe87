// The kubelet's CrashLoopBackOff rule as a pure, clock-free class: the delay
// before restarting an exited container doubles on each restart from
// `initial` up to `max`, and goes back to `initial` when the container had run
// for at least `reset_after` before it exited.
//
// Header-only on purpose (no .cc in the build).
#ifndef BERTH_CONTROLLER_CRASH_LOOP_BACKOFF_H_
#define BERTH_CONTROLLER_CRASH_LOOP_BACKOFF_H_

#include <optional>
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

  const Options& options() const { return options_; }

  // Records that `key`'s container, started at `started_at`, exited at
  // `finished_at`, and returns how long to wait after `finished_at` before
  // starting it again:
  //  * `initial` for the first exit of a key (or after Forget), or when
  //    finished_at - started_at >= reset_after;
  //  * otherwise min(2 * previous delay, max).
  // finished_at before started_at counts as a run of zero length.
  absl::Duration OnExit(const std::string& key, absl::Time started_at, absl::Time finished_at) {
    auto it = delays_.find(key);
    const absl::Duration delay =
        Next(options_, it == delays_.end() ? std::nullopt : std::optional(it->second), started_at,
             finished_at);
    delays_.insert_or_assign(key, delay);
    return delay;
  }

  // OnExit's rule alone: the delay after `previous` (nullopt: the first
  // exit) for a run from `started_at` to `finished_at`.
  static absl::Duration Next(const Options& options, std::optional<absl::Duration> previous,
                             absl::Time started_at, absl::Time finished_at) {
    if (!previous.has_value() || finished_at - started_at >= options.reset_after) {
      return options.initial;
    }
    const absl::Duration doubled = *previous * 2;  // Saturates.
    return doubled > options.max ? options.max : doubled;
  }

  // The delay returned by the last OnExit for `key`, or set by Set;
  // nullopt if none since construction or Forget.
  std::optional<absl::Duration> Last(const std::string& key) const {
    auto it = delays_.find(key);
    if (it == delays_.end()) return std::nullopt;
    return it->second;
  }

  // Records `delay` as `key`'s last (one computed with Next elsewhere).
  void Set(const std::string& key, absl::Duration delay) { delays_.insert_or_assign(key, delay); }

  // Drops `key`'s state (the container was deleted or its spec replaced).
  void Forget(const std::string& key) { delays_.erase(key); }

  // The delay returned by the last OnExit (or Set) for `key`; zero if none since
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
