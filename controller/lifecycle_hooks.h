// A container's lifecycle hooks (the spec's lifecycle.postStart and
// lifecycle.preStop), run as kubelet runs them (pkg/kubelet/lifecycle and
// kuberuntime_container.go: startContainer, killContainer), through an
// ActionRunner (controller/probe/action_runner.h).
//
// postStart: right after the container starts, with at most
// post_start_timeout. A failure is returned; the caller records
// FailedPostStartHook and stops the container (Stop, so with its preStop),
// whose exit then goes through the restart policy and back-off like any
// other. It runs at most once per container, also across a berthd killed
// and started again (HookRecords): a berthd that dies while it runs never
// runs it again for that container, and its outcome is lost (the container
// keeps running), as with kubelet.
//
// preStop: first at every stop of a running container (Stop), the handler
// the container was created with (berth.dev/pre-stop, ContainerAnnotations;
// ports by name were resolved then), so it runs even when no source holds
// the object any more. Its time counts against the grace period: the stop
// signal then gets what is left, at least kMinStopGrace (kubelet's
// minimumGracePeriodInSeconds), and the runtime SIGKILLs at the end of
// that. A failure is returned (the caller records FailedPreStopHook) and
// the stop goes on. Not run with a grace period of 0, on a container that
// does not run (created, paused, exited), or a second time for the same
// container (a stop repeated after berthd died in the middle of one: the
// signal then gets the whole grace period).
//
// Without an ActionRunner no hook runs; each skipped hook is logged.
#ifndef BERTH_CONTROLLER_LIFECYCLE_HOOKS_H_
#define BERTH_CONTROLLER_LIFECYCLE_HOOKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/hook_records.h"
#include "controller/probe/action_runner.h"
#include "controller/queue/clock.h"
#include "controller/spec/node_container.h"
#include "runtime/runtime.h"

namespace berth::controller {

inline constexpr absl::Duration kMinStopGrace = absl::Seconds(2);

struct LifecycleHooksOptions {
  ActionRunner* actions = nullptr;  // null: no hook runs (logged)
  std::string records_dir;          // HookRecords' directory; "": in memory
  absl::Duration post_start_timeout = absl::Minutes(2);
};

struct HookOutcome {
  bool ran = false;     // the handler was run
  bool failed = false;  // ... and failed
  std::string output;   // ActionResult::output
};

struct StopOutcome {
  absl::Status status;  // the runtime's Stop
  HookOutcome pre_stop;
  absl::Duration signal_grace;  // what the stop signal got
};

class LifecycleHooks {
 public:
  // `runtime` and `clock` (which times the preStop) must outlive this.
  LifecycleHooks(runtime::Runtime& runtime, const Clock& clock, LifecycleHooksOptions options);

  // Runs `object`'s postStart for its container `started` (State right
  // after Start) unless it has none, the container does not run, or the
  // hook has begun for this container before. Blocks while the hook runs.
  HookOutcome PostStart(const NodeContainer& object, const runtime::ContainerStatus& started);

  // Stops container `id` within `grace` as the header says: preStop, the
  // stop signal, SIGKILL. A container that is gone or not running is left
  // to the runtime's Stop (OK for one that is not running).
  StopOutcome Stop(const std::string& id, absl::Duration grace);

  // Forgets what hooks ran for `id`: call once its container is deleted.
  void Forget(const std::string& id) { records_.Forget(id); }

 private:
  runtime::Runtime& runtime_;
  const Clock& clock_;
  const LifecycleHooksOptions options_;
  HookRecords records_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_LIFECYCLE_HOOKS_H_
