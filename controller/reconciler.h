// Drives one container from what is observed towards what is desired. Level
// triggered: every call re-reads both sides, so it is safe to call at any
// time, any number of times, for any id.
#ifndef BERTH_CONTROLLER_RECONCILER_H_
#define BERTH_CONTROLLER_RECONCILER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/clock.h"
#include "controller/crash_loop_backoff.h"
#include "controller/events.h"
#include "controller/image_store.h"
#include "controller/node_container.h"
#include "controller/status.h"
#include "runtime/runtime.h"

namespace berth::controller {

struct ReconcilerOptions {
  std::string node_name;
  std::map<std::string, std::string> node_labels;
  // When set, this node's labels now (e.g. from its Node object in cluster
  // mode), asked at each reconcile instead of `node_labels`.
  std::function<std::map<std::string, std::string>()> current_node_labels;
  // When set, whether this node's labels are known yet (in cluster mode:
  // its Node object has been listed); asked before the labels. Until then
  // an object whose nodeSelector the labels known so far do not satisfy is
  // neither started nor removed: its container keeps running, and it is
  // looked at again shortly. Empty: always known.
  std::function<bool()> node_labels_known;
  RestartBackoff::Options backoff;
  // Asked before a container that is no longer desired is removed: true
  // keeps it (its manifest is broken right now, so "not desired" is not
  // known). Empty: always remove.
  std::function<bool(const runtime::ContainerStatus&)> keep_undesired;
  // Cluster mode: `claim` runs before a container is created for an object
  // (it adds this node's finalizer), and again at each look at an object
  // whose container runs (so a finalizer removed by someone else is put
  // back; it must not call the API when the object already has it);
  // `release` runs once the container of an
  // object that is being deleted, is no longer meant for this node, or that
  // no source holds any more, is gone (it removes the finalizer; a no-op
  // when there is none). In the last case `release` gets only the
  // namespace, name and origin the container carries (no resourceVersion).
  // Errors are retried. Empty: nothing to do.
  std::function<absl::Status(const NodeContainer&)> claim;
  std::function<absl::Status(const NodeContainer&)> release;
  // Where events go; null: the log.
  EventRecorder* events = nullptr;
  // Registry credentials for an object's image (its imagePullSecrets in
  // cluster mode). Empty: none. An error is reported and retried.
  std::function<absl::StatusOr<PullAuth>(const NodeContainer&)> pull_auth;
};

struct ReconcileResult {
  absl::Status status;  // non-OK: retry with the queue's rate limit
  absl::Duration requeue_after = absl::ZeroDuration();  // zero: no timed requeue
};

class Reconciler {
 public:
  using DesiredLookup = std::function<std::optional<NodeContainer>(const std::string& id)>;

  Reconciler(runtime::Runtime& runtime, DesiredLookup desired, const ImageStore& images,
             StatusSink& status, const Clock& clock, ReconcilerOptions options);

  // Calls for one id must not overlap (the work queue guarantees it); calls
  // for different ids may.
  ReconcileResult Reconcile(const std::string& id);

 private:
  // `object`: the source holds the object but it is not to run here (it is
  // being deleted or is for another node), so keep_undesired is not asked.
  // `deleted`: set when the container was stopped and deleted.
  ReconcileResult Remove(const runtime::ContainerStatus& observed, const NodeContainer* object,
                         bool* deleted);
  ReconcileResult Release(const NodeContainer& object);
  // Creates and starts the container; a restart carries the count and last
  // exit kept in pending_ for `id`.
  ReconcileResult CreateAndStart(const NodeContainer& object, runtime::ContainerSpec spec);
  // Resolves (pulls, per the pull policy) the object's image and builds its
  // spec into `spec`. Returns what to return from Reconcile when the spec is
  // not ready: a pull failed (ErrImagePull, then ImagePullBackOff until
  // the back-off delay passes) or the spec cannot be built. `observed`, when
  // set, is what runs now; it keeps running.
  std::optional<ReconcileResult> Prepare(const NodeContainer& object,
                                         const runtime::ContainerStatus* observed,
                                         runtime::ContainerSpec* spec);
  void ForgetLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reports what the runtime says of `id` right after its start: Running
  // only for a process that runs; one that has exited already goes through
  // HandleExit (restart policy, back-off).
  ReconcileResult AfterStart(const NodeContainer& object, const std::string& id);
  ReconcileResult HandleExit(const NodeContainer& object, const runtime::ContainerStatus& observed);
  // Stop with the container's own grace period, then delete.
  // `object`, when known, names the container in events.
  absl::Status StopAndDelete(const runtime::ContainerStatus& observed, const NodeContainer* object);
  void Event(const NodeContainer& object, EventType type, absl::string_view reason,
             const std::string& message);
  void Report(const NodeContainer& object, const runtime::ContainerStatus* observed,
              const std::string& phase, const std::string& last_error,
              const std::string& message, const std::string& reason = "");

  runtime::Runtime& runtime_;
  DesiredLookup desired_;
  const ImageStore& images_;
  StatusSink& status_;
  const Clock& clock_;
  ReconcilerOptions options_;
  LogEventRecorder log_events_;

  // The exit of one container instance (named by its creation time) and
  // when it may be restarted.
  struct ExitSeen {
    absl::Time created_at;
    absl::Time restart_at;
  };
  // What the next container of an id carries, kept until it is created (so
  // a failed create does not reset the count).
  struct PendingRestart {
    int restart_count = 0;
    std::optional<int> last_exit_code;
    std::string last_exit_reason;
  };
  // A failed pull of `image` for an id: not tried again before `retry_at`.
  struct PullFailure {
    std::string image;
    absl::Time retry_at;
    std::string error;
  };
  absl::Mutex mu_;
  RestartBackoff backoff_ ABSL_GUARDED_BY(mu_);
  RestartBackoff pull_backoff_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PullFailure> pulls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ExitSeen> exits_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PendingRestart> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_RECONCILER_H_
