// The kubelet's CrashLoopBackOff rule as a pure, clock-free class.
//
// The rule, as kubelet has it (kubernetes/kubernetes
// pkg/kubelet/kuberuntime/kuberuntime_manager.go `doBackOff`, with
// staging/src/k8s.io/client-go/util/flowcontrol/backoff.go `Backoff`):
// before starting an exited container kubelet asks
// `IsInBackOffSince(key, finishedAt)`, which is false when the key has no
// entry, and otherwise true while now - finishedAt < the entry's delay. When
// not in back-off it restarts at once and calls `Next(key, finishedAt)`,
// which sets the entry to `initial` when there was none (or it had expired)
// and to min(2 * entry, max) otherwise. So:
//  * a first exit is restarted at once, and leaves an entry of `initial`;
//  * each later exit waits the entry's delay from its finish time, and the
//    restart doubles the entry, up to `max`: with the defaults the restarts
//    come 0 s, 10 s, 20 s, 40 s, ... 5 min after the exits.
// kubelet forgets an entry after 2 * max without an update; Berth keeps its
// own rule instead: a run of at least `reset_after` counts as a first exit
// (restarted at once, entry back to `initial`).
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

  // What one exit calls for: the wait before the restart, and the entry the
  // restart leaves (what the next exit waits).
  struct Step {
    absl::Duration wait;
    absl::Duration entry;
  };

  // Records that `key`'s container, started at `started_at`, exited at
  // `finished_at`, and returns how long to wait after `finished_at` before
  // starting it again (AfterExit's rule, the entry kept per key).
  absl::Duration OnExit(const std::string& key, absl::Time started_at, absl::Time finished_at) {
    auto it = delays_.find(key);
    const Step step =
        AfterExit(options_, it == delays_.end() ? std::nullopt : std::optional(it->second),
                  started_at, finished_at);
    delays_.insert_or_assign(key, step.entry);
    return step.wait;
  }

  // kubelet's restart rule for one exit, given the key's `entry` (nullopt:
  // none, a first exit or after Forget):
  //  * no entry, or finished_at - started_at >= reset_after: wait zero
  //    (restart at once), entry `initial`;
  //  * otherwise: wait `entry`, entry min(2 * entry, max).
  // finished_at before started_at counts as a run of zero length.
  static Step AfterExit(const Options& options, std::optional<absl::Duration> entry,
                        absl::Time started_at, absl::Time finished_at) {
    if (!entry.has_value() || finished_at - started_at >= options.reset_after) {
      return Step{absl::ZeroDuration(), options.initial};
    }
    return Step{*entry, Next(options, entry, started_at, finished_at)};
  }

  // The doubling alone (also the image pull back-off's rule, which waits
  // from the first failure, as kubelet's image back-off does): `initial`
  // after `previous` nullopt or a run of at least reset_after, otherwise
  // min(2 * previous, max).
  static absl::Duration Next(const Options& options, std::optional<absl::Duration> previous,
                             absl::Time started_at, absl::Time finished_at) {
    if (!previous.has_value() || finished_at - started_at >= options.reset_after) {
      return options.initial;
    }
    const absl::Duration doubled = *previous * 2;  // Saturates.
    return doubled > options.max ? options.max : doubled;
  }

  // `key`'s entry (what its next exit waits) as the last OnExit left it,
  // or as set by Set; nullopt if none since construction or Forget.
  std::optional<absl::Duration> Last(const std::string& key) const {
    auto it = delays_.find(key);
    if (it == delays_.end()) return std::nullopt;
    return it->second;
  }

  // Records `delay` as `key`'s entry (one computed elsewhere).
  void Set(const std::string& key, absl::Duration delay) { delays_.insert_or_assign(key, delay); }

  // Drops `key`'s state (the container was deleted or its spec replaced).
  void Forget(const std::string& key) { delays_.erase(key); }

  // `key`'s entry (Last), zero if none since construction or Forget.
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
