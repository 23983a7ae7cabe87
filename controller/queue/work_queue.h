// The controller's work queue: a de-duplicating, delaying, rate-limited queue
// of string keys, modelled on client-go's workqueue
// (k8s.io/client-go/util/workqueue: Type + delayingType + rateLimitingType
// with an ItemExponentialFailureRateLimiter).
//
// Sources only enqueue keys ("namespace/name"); workers loop
//
//   while (std::optional<std::string> key = queue.Get()) {
//     absl::Status s = Reconcile(*key);
//     if (s.ok()) queue.Forget(*key); else queue.AddRateLimited(*key);
//     queue.Done(*key);
//   }
//
// Guarantees:
//  * A key is in the ready queue at most once (Add is idempotent until the
//    key is handed out by Get).
//  * A key is never handed to two workers at once. Adding a key while a worker
//    is processing it marks it dirty; it is re-queued (once, however many
//    times it was added) when that worker calls Done.
//  * Ready keys are handed out in FIFO order; delayed keys become ready in
//    order of their ready time.
//
// Time comes from the injected Clock. Get() blocks on a condition variable
// with a real-time timeout equal to (earliest ready time - clock.Now()), and
// is woken whenever a key is added, the earliest ready time moves earlier,
// Wake() is called, or ShutDown() is called. With the real clock nothing else
// is needed. With a FakeClock, call Wake() after advancing the clock so that
// blocked Get calls re-check it; without Wake() they would re-check only after
// the remaining delay has passed in real time.
//
// Metrics (client-go's workqueue set) go to Options::metrics when set; see
// queue_metrics.h. Times there are read from the same clock.
//
// Thread-safe; all methods may be called concurrently.
#ifndef BERTH_CONTROLLER_QUEUE_WORK_QUEUE_H_
#define BERTH_CONTROLLER_QUEUE_WORK_QUEUE_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/queue/clock.h"
#include "controller/queue/queue_metrics.h"

namespace berth::controller {

class WorkQueue {
 public:
  struct Options {
    // Per-key exponential backoff for AddRateLimited: the n-th consecutive
    // call for a key (n = 0, 1, ...) delays it by base_delay * 2^n, capped at
    // max_delay (client-go's DefaultControllerRateLimiter item limiter).
    absl::Duration base_delay = absl::Milliseconds(5);
    absl::Duration max_delay = absl::Minutes(5);
    // Where the queue's metrics go, labelled `name`; null: nowhere. Must
    // outlive the queue.
    QueueMetricsProvider* metrics = nullptr;
    std::string name;
  };

  // `clock` must outlive the queue.
  explicit WorkQueue(const Clock& clock);
  WorkQueue(const Clock& clock, Options options);

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  ~WorkQueue();

  // Marks `key` as needing processing. No-op if it is already queued (or
  // already marked dirty while being processed), and after ShutDown. Does not
  // affect a pending AddAfter of the same key.
  void Add(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Adds `key` once clock.Now() >= Now()-at-call + delay. A non-positive
  // delay is the same as Add. If the key is already waiting, the earlier of
  // the two ready times is kept. Waiting is independent of the ready queue: a
  // key both queued and waiting is processed now and again when it becomes
  // ready (unless it is still queued then, in which case it is merged).
  // No-op after ShutDown.
  void AddAfter(const std::string& key, absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);

  // AddAfter(key, backoff) where backoff = base_delay * 2^NumRequeues(key),
  // capped at max_delay; then increments NumRequeues(key).
  void AddRateLimited(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Resets the failure count of `key` (call after it was processed
  // successfully). Does not cancel a pending AddAfter.
  void Forget(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Number of AddRateLimited calls for `key` since the last Forget.
  int NumRequeues(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until a key is ready, marks it processing and returns it. The
  // caller must call Done(key) when finished. Returns std::nullopt as soon as
  // ShutDown has been called (ready keys that were not handed out are
  // dropped).
  std::optional<std::string> Get() ABSL_LOCKS_EXCLUDED(mu_);

  // Ends processing of `key` (returned by Get). If the key was added again
  // meanwhile, it is queued again. No-op for a key that is not processing.
  void Done(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes every blocked Get re-read the clock. Call after moving a FakeClock.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);

  // Makes every blocked and future Get return std::nullopt and ignores
  // further adds. Idempotent.
  void ShutDown() ABSL_LOCKS_EXCLUDED(mu_);
  bool ShuttingDown() const ABSL_LOCKS_EXCLUDED(mu_);

  // Number of keys Get could hand out now: queued keys plus waiting keys
  // whose ready time has passed (per the clock), not counting keys that are
  // processing.
  size_t Len() const ABSL_LOCKS_EXCLUDED(mu_);

  // The work of the keys processing now (Get without Done yet), aged by the
  // clock: what workqueue_unfinished_work_seconds and
  // workqueue_longest_running_processor_seconds export.
  QueueInProgress InProgress() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Time-ordered set of waiting keys, and each waiting key's ready time.
  using WaitingSet = std::set<std::pair<absl::Time, std::string>>;

  void AddLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves every waiting key with ready time <= now to the ready queue.
  void PromoteLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration BackoffLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The metric objects (no-ops without a provider).
  struct Metrics {
    std::unique_ptr<QueueGauge> depth;
    std::unique_ptr<QueueCounter> adds;
    std::unique_ptr<QueueHistogram> latency;
    std::unique_ptr<QueueHistogram> work_duration;
    std::unique_ptr<QueueCounter> retries;
  };

  const Clock& clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  absl::CondVar cond_;
  // Keys ready to be handed out, FIFO. Every key here is also in dirty_.
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  // Keys that need processing: queued, or added while processing.
  absl::flat_hash_set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
  // Keys handed out by Get and not yet Done.
  absl::flat_hash_set<std::string> processing_ ABSL_GUARDED_BY(mu_);
  WaitingSet waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> ready_at_ ABSL_GUARDED_BY(mu_);
  // AddRateLimited calls per key since Forget.
  absl::flat_hash_map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // When each dirty key became dirty, and each processing key was handed
  // out.
  absl::flat_hash_map<std::string, absl::Time> queued_at_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> started_at_ ABSL_GUARDED_BY(mu_);
  Metrics metrics_;
  // Last: unregistered first, before the state it reads goes.
  std::unique_ptr<QueueMetricRegistration> in_progress_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_QUEUE_WORK_QUEUE_H_
