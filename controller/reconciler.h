// Drives one container from what is observed towards what is desired. Level
// triggered: every call re-reads both sides, so it is safe to call at any
// time, any number of times, for any id. It reads, asks ComputeActions
// (controller/compute_actions.h) what to do, and does it (kubelet's
// computePodActions, then SyncPod).
#ifndef BERTH_CONTROLLER_RECONCILER_H_
#define BERTH_CONTROLLER_RECONCILER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/compute_actions.h"
#include "controller/crash_loop_backoff.h"
#include "controller/events.h"
#include "controller/lifecycle_hooks.h"
#include "controller/probe/action_runner.h"
#include "controller/queue/clock.h"
#include "controller/restart_memory.h"
#include "controller/spec/node_container.h"
#include "controller/status.h"
#include "runtime/image/image_store.h"
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
  std::function<absl::StatusOr<image::PullAuth>(const NodeContainer&)> pull_auth;
  // Container health (the prober, controller/probe/prober.h): asked at each
  // report of an object, with its container when it runs (nullptr when none
  // runs or it is paused), it answers whether the container is ready (the
  // report's `ready`); `forget_health` when the id's status is forgotten.
  // Empty: ready means running.
  std::function<bool(const std::string& id, const NodeContainer& object,
                     const runtime::ContainerStatus* running)>
      observe_health;
  std::function<void(const std::string& id)> forget_health;
  // Runs the lifecycle hooks (controller/lifecycle_hooks.h): postStart after
  // each start, preStop first at each stop. Null: no hook runs (logged).
  ActionRunner* actions = nullptr;
  // Where the hooks begun for each container are recorded (HookRecords),
  // so none runs twice across a restart of berthd; "": in memory only.
  std::string hook_records_dir;
  // Where what the next container of an id carries (its restart count and
  // last exit) is kept while the exited one is deleted and the next not yet
  // started, so a restart of berthd in between loses neither (RestartMemory);
  // "": in memory only.
  std::string pending_restarts_dir;
  absl::Duration post_start_timeout = absl::Minutes(2);
};

struct ReconcileResult {
  absl::Status status;                                  // non-OK: retry with the queue's rate limit
  absl::Duration requeue_after = absl::ZeroDuration();  // zero: no timed requeue
};

class Reconciler {
 public:
  using DesiredLookup = std::function<std::optional<NodeContainer>(const std::string& id)>;

  Reconciler(runtime::Runtime& runtime, DesiredLookup desired, const image::ImageStore& images,
             StatusSink& status, const Clock& clock, ReconcilerOptions options);

  // Calls for one id must not overlap (the work queue guarantees it); calls
  // for different ids may.
  ReconcileResult Reconcile(const std::string& id);

  // Marks `id`'s container to be recreated (ComputeActions) at its next
  // Reconcile, which the caller brings about (enqueues the id): the
  // recreate happens inside the reconcile of that id, never beside one.
  // Returns the request's number. Thread-safe.
  uint64_t RequestRestart(const std::string& id);

  // Marks the container instance `kill.created_at` of `id` to be stopped
  // at its next Reconcile (a liveness or startup probe failed past its
  // threshold), which the caller brings about (enqueues the id): the stop
  // takes the same path as every stop (Killing event, grace period), the
  // container is kept, and the next look handles its exit by the restart
  // policy. Returns the request's number. Thread-safe.
  uint64_t RequestKill(const std::string& id, KillRequest kill);

 private:
  // Carries out `actions` in the order of their numbered fields; stops at
  // the first failure and returns it.
  ReconcileResult Carry(ContainerActions actions);
  // Resolves (pulls, per the pull policy) the image and builds the spec
  // into `spec`; returns what to return from Reconcile when it is not ready.
  // Pull failures are remembered under `id`, the id being reconciled.
  std::optional<ReconcileResult> Prepare(const std::string& id, const NodeContainer& object,
                                         const std::optional<runtime::ContainerStatus>& observed,
                                         runtime::ContainerSpec* spec);
  // Claims, creates and starts the container with `restart`'s annotations,
  // then looks at it again (AfterStart).
  ReconcileResult CreateAndStart(const NodeContainer& object, runtime::ContainerSpec spec,
                                 const PendingRestart& restart);
  // Runs the postStart hook of the container `id` just started (a failure
  // stops it), then AfterStart.
  ReconcileResult Started(const NodeContainer& object, const std::string& id);
  // What the runtime says of `id` right after its start, decided again.
  ReconcileResult AfterStart(const NodeContainer& object, const std::string& id);
  absl::Status StopAndDelete(const Removal& removal, const NodeContainer* object);
  // The preStop hook, the stop signal, SIGKILL; FailedPreStopHook recorded.
  absl::Status StopRunning(const std::string& id, absl::Duration grace,
                           const NodeContainer* object);
  void Apply(const std::string& id, const NodeContainer& object, const ImageActions& actions);
  void Event(const NodeContainer& object, const EventRecord& event);
  void Report(const NodeContainer& object, const ReportRecord& report);

  runtime::Runtime& runtime_;
  DesiredLookup desired_;
  const image::ImageStore& images_;
  StatusSink& status_;
  const Clock& clock_;
  ReconcilerOptions options_;
  LogEventRecorder log_events_;
  RestartMemory memory_;
  LifecycleHooks hooks_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_RECONCILER_H_
