// The reconciler's decisions, as pure functions of values (kubelet's
// computePodActions): what one look at an id's desired object, its observed
// container and what is remembered of it calls for. No runtime, image
// store, clock or lock in here; the Reconciler carries the actions out in
// the order of the numbered fields of ContainerActions.
#ifndef BERTH_CONTROLLER_COMPUTE_ACTIONS_H_
#define BERTH_CONTROLLER_COMPUTE_ACTIONS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/crash_loop_backoff.h"
#include "controller/events.h"
#include "controller/phase.h"
#include "controller/restart_memory.h"
#include "controller/spec/node_container.h"
#include "runtime/runtime.h"

namespace berth::controller {

// How long to wait before looking again at a container the runtime reports
// as being created or deleted by someone else's call.
inline constexpr absl::Duration kBusyRequeue = absl::Seconds(1);
// How long to wait before looking again at an object whose nodeSelector
// cannot be decided while this node's labels are not known.
inline constexpr absl::Duration kNodeUnknownRequeue = absl::Milliseconds(500);

// What the sources say of an id, for this node.
enum class Wanted {
  kNotHeld,            // no source holds it
  kRun,                // to run here
  kBeingDeleted,       // held, with a deletion timestamp
  kOtherNode,          // held, for another node (name or known labels)
  kSelectorUndecided,  // only the nodeSelector says no, and the labels are not known yet
};
Wanted Classify(const std::optional<NodeContainer>& object, const std::string& node_name,
                const std::map<std::string, std::string>& node_labels, bool labels_known);

// A record a failed create or delete left ("Creating", "Deleting"); not
// one whose exit is being written ("Exiting").
bool IsLeftoverRecord(const runtime::ContainerStatus& observed);

struct EventRecord {
  EventType type = EventType::kNormal;
  std::string reason;
  std::string message;
  bool operator==(const EventRecord& o) const {
    return type == o.type && reason == o.reason && message == o.message;
  }
};

// A status report about the object; `observed` fills the container's part.
struct ReportRecord {
  Phase phase = Phase::kPending;
  std::optional<runtime::ContainerStatus> observed;
  std::string last_error;
  std::string message;
  std::string reason;  // non-empty: replaces the container's reason
};

ReportRecord MakeReport(Phase phase, std::optional<runtime::ContainerStatus> observed,
                        std::string last_error = "", std::string message = "",
                        std::string reason = "");

// Stop (when it may run) and delete a container.
struct Removal {
  std::string id;
  bool stop = false;
  absl::Duration grace;
  std::optional<EventRecord> killing;  // recorded just before the stop
  std::string why;                     // for the log; empty: no line
  // Stop only, no delete (a probe's kill): the exit is then seen by the
  // next look and goes through the restart policy like any exit.
  bool keep = false;
};

struct ExitRecord {
  ExitSeen seen;
  // The back-off entry the restart leaves: what the next exit waits.
  absl::Duration delay;
};

struct ContainerActions {
  std::string id;
  // The object events, reports, claims and the new container are about.
  std::optional<NodeContainer> object;
  // For the log: nothing done while the node's labels are unknown, or a
  // container kept because its source cannot say whether it is wanted.
  bool labels_unknown = false;
  bool kept = false;

  // 1. Delete a leftover record (its state, for the log).
  std::optional<std::string> delete_leftover;
  // 2. Remove an unwanted container; 3. then forget the status and memory.
  std::optional<Removal> remove;
  bool forget = false;
  // 3b. Stop a running container a probe asked to kill (keep set), then
  // consume the request numbered `consume_kill` and look again; with no
  // `kill`, a non-zero `consume_kill` drops a request that is moot (its
  // container is not the one that runs).
  std::optional<Removal> kill;
  uint64_t consume_kill = 0;
  // 4. Release the object's finalizer.
  std::optional<NodeContainer> release;
  // 5. Remember an exit seen for the first time.
  std::optional<ExitRecord> record_exit;
  // 6. Events, then 7. the report.
  std::vector<EventRecord> events;
  std::optional<ReportRecord> report;
  // 8. Claim the object of a running container: the result is the claim's.
  bool claim_running = false;
  // 9. Claim, start a created container and look at it again.
  bool start_created = false;
  // 10. Resolve the image and build the spec; a failure ends here (see
  // DecideAfterPull). `prepare_observed`: what runs meanwhile (reported).
  bool prepare = false;
  std::optional<runtime::ContainerStatus> prepare_observed;
  // 11. Remember what the next container carries.
  std::optional<PendingRestart> record_pending;
  // 12. Remove the old container; then, when set, forget the memory.
  std::optional<Removal> replace;
  bool forget_after_replace = false;
  // Then consume the restart request with this number (RestartMemory);
  // 0: none. A requested restart is a recreate like a spec change's (see
  // ComputeActions).
  uint64_t consume_restart = 0;
  // 13. Claim, create and start the new container carrying `restart`,
  // then look at it again (DecideAfterStart).
  bool create = false;
  PendingRestart restart;

  absl::Duration requeue_after = absl::ZeroDuration();
};

// One look at `id`.
struct Observation {
  std::string id;
  std::optional<NodeContainer> object;  // as the sources hold it
  Wanted wanted = Wanted::kNotHeld;
  std::optional<runtime::ContainerStatus> observed;  // nullopt: not there
  // keep_undesired's answer; asked only for a not-held object whose
  // container is there and not a leftover record.
  bool keep_undesired = false;
  RestartState memory;
  RestartBackoff::Options backoff;
  absl::Time now;
};
// A kill requested by a probe (in.memory.kill_request) of the running or
// paused container it names (by creation time) stops it, with the probe's
// grace period when it has one, and a Killing event with the probe's
// message; the container is kept, so its exit goes through the restart
// policy and CrashLoopBackOff, and counts as a restart. A request about
// another instance is dropped.
// A restart requested through the API (in.memory.restart_request) of an
// up-to-date container that is running, paused, created or exited
// (crash-looping included: the back-off is not waited) recreates it at
// once as a spec change does: the image first, then stop with its grace
// period, delete, create, start. It is a new container, as the new pod of
// `kubectl rollout restart` is: its restart count starts again at 0 and the
// back-off and last state are forgotten. With no container (it went away
// meanwhile) the request is consumed by the create; with a spec change it
// is consumed by the recreate.
ContainerActions ComputeActions(const Observation& in);

// The look right after a start: `now_status` is what the runtime says.
ContainerActions DecideAfterStart(const NodeContainer& object,
                                  const runtime::ContainerStatus& now_status,
                                  const RestartState& memory,
                                  const RestartBackoff::Options& backoff, absl::Time now);

// How resolving the image went.
struct PullOutcome {
  enum class Kind { kAuthFailed, kFailed, kResolved };
  Kind kind = Kind::kResolved;
  absl::Status status;  // kAuthFailed, kFailed: why
  ImagePullPolicy policy = ImagePullPolicy::kIfNotPresent;
  bool would_pull = false;  // the store said it would pull
  bool pulled = false;      // kResolved: it did
  absl::Duration took;      // kResolved and pulled: how long
};

struct ImageActions {
  bool forget_pull_failure = false;
  std::optional<PullFailure> record_pull_failure;
  absl::Duration pull_delay;
  std::optional<ReportRecord> report;  // recorded before the events
  std::vector<EventRecord> events;
  bool ready = false;  // go on with the spec; else return status/requeue
  absl::Status status;
  absl::Duration requeue_after = absl::ZeroDuration();
};

// The event before a pull (kubelet's Pulling), when the store would pull.
std::optional<EventRecord> BeforePull(const NodeContainer& object, bool would_pull);
// After resolving `object`'s image (prepare_observed: what runs meanwhile).
ImageActions DecideAfterPull(const NodeContainer& object,
                             const std::optional<runtime::ContainerStatus>& prepare_observed,
                             const PullOutcome& outcome, const RestartState& memory,
                             const RestartBackoff::Options& backoff, absl::Time now);
// The spec could not be built: what runs keeps running.
ImageActions DecideAfterBuildFailure(
    const NodeContainer& object, const std::optional<runtime::ContainerStatus>& prepare_observed,
    const absl::Status& error);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_COMPUTE_ACTIONS_H_
