#include "controller/compute_actions.h"

#include "absl/strings/str_cat.h"
#include "controller/desired_state.h"
#include "controller/diff.h"
#include "controller/spec/container_annotations.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;

bool MayRun(const ContainerStatus& c) {
  return c.state == ContainerState::kRunning || c.state == ContainerState::kPaused ||
         c.state == ContainerState::kCreated;
}

// Stop with the container's own grace period, then delete; `object`, when
// known, names the container in the Killing event.
Removal StopAndDelete(const ContainerStatus& observed, const NodeContainer* object,
                      std::string log) {
  Removal r;
  r.id = observed.id;
  r.grace = ContainerAnnotations::Decode(observed.annotations).grace_period;
  r.stop = MayRun(observed);
  if (r.stop && object != nullptr) {
    r.killing = EventRecord{EventType::kNormal, "Killing",
                            absl::StrCat("Stopping container ", object->metadata.name,
                                         " (grace period ", absl::FormatDuration(r.grace), ")")};
  }
  r.why = std::move(log);
  return r;
}

Phase WaitingPhase(const std::optional<ContainerStatus>& observed) {
  return observed.has_value() && observed->state == ContainerState::kRunning ? Phase::kRunning
                                                                             : Phase::kPending;
}

// Before a pull: true (and the report and requeue set) when the last pull
// of the same image failed and its back-off has not passed.
bool PullBackingOff(const NodeContainer& object, const std::optional<ContainerStatus>& observed,
                    const RestartState& memory, absl::Time now, ContainerActions* a) {
  const std::optional<PullFailure>& f = memory.pull;
  if (!f.has_value() || f->image != object.spec.image || now >= f->retry_at) return false;
  a->report = MakeReport(WaitingPhase(observed), observed, f->error,
                         absl::StrCat("Back-off pulling image \"", object.spec.image, "\""),
                         "ImagePullBackOff");
  a->requeue_after = f->retry_at - now;
  return true;
}

// An exited container of a wanted object: its restart policy and back-off.
void DecideExit(const NodeContainer& object, const ContainerStatus& observed,
                const RestartState& memory, const RestartBackoff::Options& backoff, absl::Time now,
                ContainerActions* a) {
  const bool succeeded = observed.exit_code.has_value() && *observed.exit_code == 0;
  const RestartPolicy policy = object.spec.restart_policy;
  if (policy == RestartPolicy::kNever || (policy == RestartPolicy::kOnFailure && succeeded)) {
    a->report = MakeReport(succeeded ? Phase::kSucceeded : Phase::kFailed, observed);
    return;
  }
  absl::Time restart_at;
  bool first_sight_backoff = false;
  if (!memory.exit.has_value() || memory.exit->created_at != observed.created_at) {
    // The first sight of this instance's exit. One whose time was lost
    // counts from now.
    const absl::Time finished =
        observed.finished_at != absl::InfinitePast() ? observed.finished_at : now;
    // kubelet's rule (crash_loop_backoff.h): a first exit restarts at
    // once, a later one waits the entry the last restart left.
    const RestartBackoff::Step step =
        RestartBackoff::AfterExit(backoff, memory.exit_delay, observed.started_at, finished);
    restart_at = finished + step.wait;
    a->record_exit = ExitRecord{ExitSeen{observed.created_at, restart_at}, step.entry};
    first_sight_backoff = restart_at > now;
  } else {
    restart_at = memory.exit->restart_at;
  }
  if (now < restart_at) {
    if (first_sight_backoff) {
      a->events.push_back(
          {EventType::kWarning, "BackOff",
           absl::StrCat("Back-off restarting failed container ", object.metadata.name)});
    }
    a->report = MakeReport(
        Phase::kCrashLoopBackOff, observed, "",
        absl::StrCat("back-off ",
                     absl::FormatDuration(absl::Ceil(restart_at - now, absl::Seconds(1))),
                     " restarting failed container"));
    a->requeue_after = restart_at - now;
    return;
  }
  if (PullBackingOff(object, observed, memory, now, a)) return;
  a->prepare = true;
  a->prepare_observed = observed;
  PendingRestart next;
  next.restart_count = ContainerAnnotations::Decode(observed.annotations).RestartCount() + 1;
  next.last_exit_code = observed.exit_code;
  next.last_exit_reason = observed.reason;
  a->record_pending = next;
  Removal remove;  // deleted, not stopped: it has exited
  remove.id = observed.id;
  a->replace = std::move(remove);
  a->create = true;
  a->restart = std::move(next);
}

}  // namespace

ReportRecord MakeReport(Phase phase, std::optional<ContainerStatus> observed,
                        std::string last_error, std::string message, std::string reason) {
  ReportRecord r;
  r.phase = phase;
  r.observed = std::move(observed);
  r.last_error = std::move(last_error);
  r.message = std::move(message);
  r.reason = std::move(reason);
  return r;
}

Wanted Classify(const std::optional<NodeContainer>& object, const std::string& node_name,
                const std::map<std::string, std::string>& node_labels, bool labels_known) {
  if (!object.has_value()) return Wanted::kNotHeld;
  if (!object->metadata.deletion_timestamp.empty()) return Wanted::kBeingDeleted;
  if (IsForNode(*object, node_name, node_labels)) return Wanted::kRun;
  if (!labels_known && (object->spec.node_name.empty() || object->spec.node_name == node_name)) {
    return Wanted::kSelectorUndecided;
  }
  return Wanted::kOtherNode;
}

bool IsLeftoverRecord(const ContainerStatus& observed) {
  return observed.state == ContainerState::kUnknown && observed.reason != "Exiting";
}

ContainerActions ComputeActions(const Observation& in) {
  ContainerActions a;
  a.id = in.id;
  a.object = in.object;
  std::optional<ContainerStatus> observed = in.observed;
  if (in.wanted == Wanted::kSelectorUndecided &&
      (!observed.has_value() || observed->state != ContainerState::kStopped)) {
    // Nothing is created or removed before the labels say whether the
    // object is meant for this node; what runs keeps running. An exited
    // container (it was meant for this node) goes on through its restart
    // policy below.
    a.labels_unknown = true;
    a.requeue_after = kNodeUnknownRequeue;
    return a;
  }
  // Only the reconciler drives the runtime for an id, one call at a time:
  // a record still "Creating" or "Deleting" is what a failed rollback or
  // delete left behind. Finish removing it.
  if (observed.has_value() && IsLeftoverRecord(*observed)) {
    a.delete_leftover = observed->reason;
    observed.reset();
  }

  if (in.wanted != Wanted::kRun && in.wanted != Wanted::kSelectorUndecided) {
    const bool held = in.wanted != Wanted::kNotHeld;
    if (observed.has_value()) {
      if (!held && in.keep_undesired) {
        a.kept = true;
        return a;
      }
      const char* why = !held                                ? "no longer desired"
                        : in.wanted == Wanted::kBeingDeleted ? "its object is being deleted"
                                                             : "not meant for this node";
      a.remove = StopAndDelete(*observed, held ? &*in.object : nullptr,
                               absl::StrCat("delete container ", observed->id, ": ", why));
      a.forget = true;
      if (!held) {
        // No source holds the object any more (deleted, or moved to another
        // node out of this node's view): release it by the names the
        // container carries; the API is asked whether anything is left.
        const ContainerAnnotations names = ContainerAnnotations::Decode(observed->annotations);
        if (names.name.empty()) return a;
        NodeContainer stub;
        stub.metadata.namespace_ = names.namespace_;
        stub.metadata.name = names.name;
        stub.origin = names.source;
        a.release = std::move(stub);
        return a;
      }
    } else {
      a.forget = true;
    }
    if (held) a.release = *in.object;
    return a;
  }

  const NodeContainer& object = *in.object;
  if (observed.has_value() && observed->state == ContainerState::kUnknown) {
    a.requeue_after = kBusyRequeue;  // its exit is being written
    return a;
  }
  // A container of an earlier release matches by that release's hash.
  const PlannedAction action =
      Decide(in.id, DesiredSpecHash(object),
             observed ? std::optional(EffectiveObservedHash(
                            object, ContainerAnnotations::Decode(observed->annotations).spec_hash))
                      : std::nullopt);
  switch (action.kind) {
    case ActionKind::kCreate:
      if (PullBackingOff(object, observed, in.memory, in.now, &a)) return a;
      a.prepare = true;
      a.create = true;
      a.restart = in.memory.pending.value_or(PendingRestart{});
      a.consume_restart = in.memory.restart_request;
      return a;
    case ActionKind::kRecreate:
      // The new image first: the old container runs until it is there.
      if (PullBackingOff(object, observed, in.memory, in.now, &a)) return a;
      a.prepare = true;
      a.prepare_observed = observed;
      a.replace = StopAndDelete(*observed, &object,
                                absl::StrCat("recreate container ", in.id, ": ", action.reason));
      a.forget_after_replace = true;  // a new spec starts a new count
      a.consume_restart = in.memory.restart_request;
      a.create = true;
      return a;
    case ActionKind::kDelete:  // not reachable: handled above
    case ActionKind::kNoop: break;
  }
  if (in.memory.restart_request != 0 && observed->state != ContainerState::kUnknown) {
    // Restarted on request: a new container, as for a new spec.
    if (PullBackingOff(object, observed, in.memory, in.now, &a)) return a;
    a.prepare = true;
    a.prepare_observed = observed;
    a.replace =
        StopAndDelete(*observed, &object, absl::StrCat("restart container ", in.id, ": requested"));
    a.forget_after_replace = true;
    a.consume_restart = in.memory.restart_request;
    a.create = true;
    return a;
  }
  switch (observed->state) {
    case ContainerState::kCreated:
      // Created but never started (a restart of Berth between the two).
      a.start_created = true;
      return a;
    case ContainerState::kRunning:
    case ContainerState::kPaused:
      if (in.memory.kill_request.has_value()) {
        const KillRequest& k = *in.memory.kill_request;
        a.consume_kill = k.number;
        if (k.created_at == observed->created_at) {
          Removal kill = StopAndDelete(*observed, &object,
                                       absl::StrCat("kill container ", in.id, ": ", k.message));
          kill.keep = true;
          if (k.grace.has_value()) kill.grace = *k.grace;
          kill.killing = EventRecord{EventType::kNormal, "Killing", k.message};
          a.kill = std::move(kill);
          return a;
        }
      }
      a.report = MakeReport(Phase::kRunning, observed);
      // A running container's object carries this node's finalizer, even
      // when someone removed it.
      a.claim_running = true;
      return a;
    case ContainerState::kStopped:
      DecideExit(object, *observed, in.memory, in.backoff, in.now, &a);
      return a;
    case ContainerState::kUnknown: break;
  }
  a.requeue_after = kBusyRequeue;
  return a;
}

ContainerActions DecideAfterStart(const NodeContainer& object, const ContainerStatus& now_status,
                                  const RestartState& memory,
                                  const RestartBackoff::Options& backoff, absl::Time now) {
  ContainerActions a;
  a.id = now_status.id;
  a.object = object;
  switch (now_status.state) {
    case ContainerState::kRunning:
    case ContainerState::kPaused:
      // Only a process that runs is reported Running.
      a.report = MakeReport(Phase::kRunning, now_status);
      return a;
    case ContainerState::kStopped:
      // One that exited already goes through its restart policy.
      DecideExit(object, now_status, memory, backoff, now, &a);
      return a;
    case ContainerState::kCreated:
    case ContainerState::kUnknown:
      // Exiting: its monitor is still writing the exit, which arrives as
      // an event; look again soon in any case.
      break;
  }
  a.requeue_after = kBusyRequeue;
  return a;
}

std::optional<EventRecord> BeforePull(const NodeContainer& object, bool would_pull) {
  if (!would_pull) return std::nullopt;
  return EventRecord{EventType::kNormal, "Pulling",
                     absl::StrCat("Pulling image \"", object.spec.image, "\"")};
}

ImageActions DecideAfterPull(const NodeContainer& object,
                             const std::optional<ContainerStatus>& prepare_observed,
                             const PullOutcome& outcome, const RestartState& memory,
                             const RestartBackoff::Options& backoff, absl::Time now) {
  ImageActions a;
  const std::string& image = object.spec.image;
  const Phase waiting = WaitingPhase(prepare_observed);
  const std::string error(outcome.status.message());
  switch (outcome.kind) {
    case PullOutcome::Kind::kAuthFailed:
      a.report = MakeReport(waiting, prepare_observed, error, "", "ErrImagePull");
      a.events.push_back({EventType::kWarning, "Failed", absl::StrCat("Error: ", error)});
      a.status = outcome.status;
      return a;
    case PullOutcome::Kind::kFailed: {
      // Pulls are cancelled when berthd stops: nothing failed, nothing to say.
      if (absl::IsCancelled(outcome.status)) {
        a.status = outcome.status;
        return a;
      }
      if (absl::IsInvalidArgument(outcome.status)) {
        a.report = MakeReport(waiting, prepare_observed, error, "", "InvalidImageName");
        a.events.push_back({EventType::kWarning, "InspectFailed", error});
        a.status = outcome.status;
        return a;
      }
      const bool never = outcome.policy == ImagePullPolicy::kNever;
      a.pull_delay = RestartBackoff::Next(backoff, memory.pull_delay, now, now);
      a.record_pull_failure = PullFailure{image, now + a.pull_delay, error};
      a.report = MakeReport(waiting, prepare_observed, error, "",
                            never ? "ErrImageNeverPull" : "ErrImagePull");
      a.events.push_back(
          never ? EventRecord{EventType::kWarning, "ErrImageNeverPull",
                              absl::StrCat("Container image \"", image,
                                           "\" is not present with pull policy of Never")}
                : EventRecord{EventType::kWarning, "Failed",
                              absl::StrCat("Failed to pull image \"", image, "\": ", error)});
      a.requeue_after = a.pull_delay;
      return a;
    }
    case PullOutcome::Kind::kResolved: break;
  }
  a.forget_pull_failure = true;
  // kubelet's events: Pulled after a pull, or that the image is present.
  if (outcome.pulled) {
    a.events.push_back(
        {EventType::kNormal, "Pulled",
         absl::StrCat("Successfully pulled image \"", image, "\" in ",
                      absl::FormatDuration(absl::Trunc(outcome.took, absl::Milliseconds(1))))});
  } else if (!outcome.would_pull) {
    a.events.push_back(
        {EventType::kNormal, "Pulled",
         absl::StrCat("Container image \"", image, "\" already present on machine")});
  }
  a.ready = true;
  return a;
}

ImageActions DecideAfterBuildFailure(const NodeContainer& object,
                                     const std::optional<ContainerStatus>& prepare_observed,
                                     const absl::Status& error) {
  ImageActions a;
  const std::string message(error.message());
  a.report = MakeReport(
      WaitingPhase(prepare_observed) == Phase::kRunning ? Phase::kRunning : Phase::kError,
      prepare_observed, message, "");
  a.events.push_back({EventType::kWarning, "Failed", absl::StrCat("Error: ", message)});
  a.status = error;
  return a;
}

}  // namespace berth::controller
