#include "controller/reconciler.h"

#include "absl/strings/str_cat.h"
#include "controller/desired_state.h"
#include "controller/diff.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;

// How long to wait before looking again at a container the runtime reports
// as being created or deleted by someone else's call.
constexpr absl::Duration kBusyRequeue = absl::Seconds(1);
// How long to wait before looking again at an object whose nodeSelector
// cannot be decided while this node's labels are not known.
constexpr absl::Duration kNodeUnknownRequeue = absl::Milliseconds(500);

std::string StringAnnotation(const std::map<std::string, std::string>& annotations,
                             const std::string& key) {
  auto it = annotations.find(key);
  return it == annotations.end() ? "" : it->second;
}

std::optional<std::string> HashOf(const ContainerStatus& observed) {
  auto it = observed.annotations.find(kSpecHashAnnotation);
  if (it == observed.annotations.end()) return std::string();
  return it->second;
}

}  // namespace

Reconciler::Reconciler(runtime::Runtime& runtime, DesiredLookup desired, const ImageStore& images,
                       StatusSink& status, const Clock& clock, ReconcilerOptions options)
    : runtime_(runtime),
      desired_(std::move(desired)),
      images_(images),
      status_(status),
      clock_(clock),
      options_(std::move(options)),
      backoff_(options_.backoff),
      pull_backoff_(options_.backoff) {}

ReconcileResult Reconciler::Reconcile(const std::string& id) {
  std::optional<NodeContainer> object = desired_(id);
  // Held by the source, but not to run here: its container goes, then the
  // object is released.
  std::optional<NodeContainer> unwanted;
  // Only the nodeSelector says no, and this node's labels are not known yet:
  // decided once the runtime is read.
  bool selector_undecided = false;
  if (object.has_value() && !object->metadata.deletion_timestamp.empty()) {
    unwanted = std::move(object);
    object.reset();
  } else if (object.has_value()) {
    // Asked before the labels: labels read first could be older than a
    // "known" that follows them.
    const bool labels_known = !options_.node_labels_known || options_.node_labels_known();
    if (!IsForNode(*object, options_.node_name,
                   options_.current_node_labels ? options_.current_node_labels()
                                                : options_.node_labels)) {
      if (!labels_known &&
          (object->spec.node_name.empty() || object->spec.node_name == options_.node_name)) {
        selector_undecided = true;
      } else {
        unwanted = std::move(object);
        object.reset();
      }
    }
  }
  absl::StatusOr<ContainerStatus> observed_or = runtime_.State(id);
  if (!observed_or.ok() && !absl::IsNotFound(observed_or.status())) {
    return {observed_or.status()};
  }
  std::optional<ContainerStatus> observed;
  if (observed_or.ok()) observed = *std::move(observed_or);
  if (selector_undecided &&
      (!observed.has_value() || observed->state != ContainerState::kStopped)) {
    // Nothing is created or removed before the labels say whether the
    // object is meant for this node; what runs keeps running. An exited
    // container (it was meant for this node) goes on through its restart
    // policy below.
    spdlog::debug("container {}: this node's labels are not known yet; decided later", id);
    return {absl::OkStatus(), kNodeUnknownRequeue};
  }

  // Only this reconciler drives the runtime for `id`, one call at a time:
  // a record still "Creating" or "Deleting" is what a failed rollback or
  // delete left behind. Finish removing it.
  if (observed.has_value() && observed->state == ContainerState::kUnknown &&
      observed->reason != "Exiting") {
    spdlog::warn("container {}: left {} by an earlier failure; removing it", id, observed->reason);
    if (absl::Status s = runtime_.Delete(id); !s.ok()) return {s};
    observed.reset();
  }

  if (!object.has_value()) {
    if (observed.has_value()) {
      bool deleted = false;
      ReconcileResult removed = Remove(*observed, unwanted ? &*unwanted : nullptr, &deleted);
      if (!removed.status.ok() || !deleted) return removed;
      if (!unwanted.has_value()) {
        // No source holds the object any more (deleted, or moved to another
        // node out of this node's view): release it by the names the
        // container carries; the API is asked whether anything is left.
        NodeContainer stub;
        stub.metadata.namespace_ = StringAnnotation(observed->annotations, kNamespaceAnnotation);
        stub.metadata.name = StringAnnotation(observed->annotations, kNameAnnotation);
        stub.origin = StringAnnotation(observed->annotations, kSourceAnnotation);
        if (stub.metadata.name.empty()) return removed;
        return Release(stub);
      }
    } else {
      status_.Remove(id);
      absl::MutexLock l(&mu_);
      ForgetLocked(id);
    }
    if (unwanted.has_value()) return Release(*unwanted);
    return {};
  }

  if (observed.has_value() && observed->state == ContainerState::kUnknown) {
    return {absl::OkStatus(), kBusyRequeue};
  }
  // A container of an earlier release matches by that release's hash.
  PlannedAction action = Decide(
      id, DesiredSpecHash(*object),
      observed ? std::optional(EffectiveObservedHash(*object, *HashOf(*observed))) : std::nullopt);
  switch (action.kind) {
    case ActionKind::kCreate: {
      runtime::ContainerSpec spec;
      if (auto wait = Prepare(*object, observed ? &*observed : nullptr, &spec)) return *wait;
      return CreateAndStart(*object, std::move(spec));
    }
    case ActionKind::kRecreate: {
      // The new image first: the old container runs until it is there.
      runtime::ContainerSpec spec;
      if (auto wait = Prepare(*object, &*observed, &spec)) return *wait;
      spdlog::info("recreate container {}: {}", id, action.reason);
      if (absl::Status s = StopAndDelete(*observed, &*object); !s.ok()) return {s};
      {
        absl::MutexLock l(&mu_);
        ForgetLocked(id);  // a new spec starts a new count
      }
      return CreateAndStart(*object, std::move(spec));
    }
    case ActionKind::kDelete:  // not reachable: handled above
    case ActionKind::kNoop:
      break;
  }

  switch (observed->state) {
    case ContainerState::kCreated: {
      // Created but never started (a restart of Berth between the two).
      if (options_.claim) {
        if (absl::Status s = options_.claim(*object); !s.ok()) return {s};
      }
      if (absl::Status s = runtime_.Start(id); !s.ok()) return {s};
      return AfterStart(*object, id);
    }
    case ContainerState::kRunning:
    case ContainerState::kPaused:
      Report(*object, &*observed, "Running", "", "");
      // A running container's object carries this node's finalizer, even
      // when someone removed it.
      if (options_.claim) return {options_.claim(*object)};
      return {};
    case ContainerState::kStopped:
      return HandleExit(*object, *observed);
    case ContainerState::kUnknown:
      break;
  }
  return {absl::OkStatus(), kBusyRequeue};
}

ReconcileResult Reconciler::Remove(const ContainerStatus& observed, const NodeContainer* object,
                                   bool* deleted) {
  if (object == nullptr && options_.keep_undesired && options_.keep_undesired(observed)) {
    spdlog::debug("keep container {}: its source cannot say now whether it is wanted",
                  observed.id);
    return {};
  }
  spdlog::info("delete container {}: {}", observed.id,
               object == nullptr                               ? "no longer desired"
               : !object->metadata.deletion_timestamp.empty() ? "its object is being deleted"
                                                               : "not meant for this node");
  if (absl::Status s = StopAndDelete(observed, object); !s.ok()) return {s};
  *deleted = true;
  status_.Remove(observed.id);
  absl::MutexLock l(&mu_);
  ForgetLocked(observed.id);
  return {};
}

ReconcileResult Reconciler::Release(const NodeContainer& object) {
  if (!options_.release) return {};
  return {options_.release(object)};
}

void Reconciler::ForgetLocked(const std::string& id) {
  backoff_.Forget(id);
  pull_backoff_.Forget(id);
  pulls_.erase(id);
  exits_.erase(id);
  pending_.erase(id);
}

absl::Status Reconciler::StopAndDelete(const ContainerStatus& observed,
                                       const NodeContainer* object) {
  const absl::Duration grace =
      absl::Seconds(IntAnnotation(observed.annotations, kGracePeriodAnnotation, 30));
  if (observed.state == ContainerState::kRunning || observed.state == ContainerState::kPaused ||
      observed.state == ContainerState::kCreated) {
    if (object != nullptr) {
      Event(*object, EventType::kNormal, "Killing",
            absl::StrCat("Stopping container ", object->metadata.name, " (grace period ",
                         absl::FormatDuration(grace), ")"));
    }
    if (absl::Status s = runtime_.Stop(observed.id, grace); !s.ok()) return s;
  }
  return runtime_.Delete(observed.id);
}

ReconcileResult Reconciler::CreateAndStart(const NodeContainer& object,
                                           runtime::ContainerSpec spec) {
  const std::string id = spec.id;
  PendingRestart restart;
  {
    absl::MutexLock l(&mu_);
    if (auto it = pending_.find(id); it != pending_.end()) restart = it->second;
  }
  if (options_.claim) {
    if (absl::Status s = options_.claim(object); !s.ok()) return {s};
  }
  spec.annotations[kRestartCountAnnotation] = std::to_string(restart.restart_count);
  if (restart.last_exit_code.has_value()) {
    spec.annotations[kLastExitCodeAnnotation] = std::to_string(*restart.last_exit_code);
  }
  if (!restart.last_exit_reason.empty()) {
    spec.annotations[kLastExitReasonAnnotation] = restart.last_exit_reason;
  }
  if (absl::Status s = runtime_.Create(spec); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      // Remains the runtime does not report as a container (a directory a
      // failed delete left): clear them; the retry creates.
      if (absl::Status d = runtime_.Delete(id); !d.ok()) spdlog::error("{}", d.ToString());
    }
    Report(object, nullptr, "Error", std::string(s.message()), "");
    Event(object, EventType::kWarning, "Failed", absl::StrCat("Error: ", s.message()));
    return {s};
  }
  Event(object, EventType::kNormal, "Created",
        absl::StrCat("Created container ", object.metadata.name));
  if (absl::Status s = runtime_.Start(id); !s.ok()) {
    // Never leave a created-but-not-started container behind a failure.
    if (absl::Status d = runtime_.Delete(id); !d.ok()) spdlog::error("{}", d.ToString());
    Report(object, nullptr, "Error", std::string(s.message()), "");
    Event(object, EventType::kWarning, "Failed", absl::StrCat("Error: ", s.message()));
    return {s};
  }
  Event(object, EventType::kNormal, "Started",
        absl::StrCat("Started container ", object.metadata.name));
  {
    absl::MutexLock l(&mu_);
    pending_.erase(id);
  }
  spdlog::info("started container {}{}{}", id, RealNameNote(object.metadata),
               restart.restart_count > 0 ? absl::StrCat(" (restart ", restart.restart_count, ")")
                                         : "");
  return AfterStart(object, id);
}

ReconcileResult Reconciler::AfterStart(const NodeContainer& object, const std::string& id) {
  absl::StatusOr<ContainerStatus> now = runtime_.State(id);
  if (!now.ok()) return {now.status()};
  switch (now->state) {
    case ContainerState::kRunning:
    case ContainerState::kPaused:
      Report(object, &*now, "Running", "", "");
      return {};
    case ContainerState::kStopped:
      return HandleExit(object, *now);
    case ContainerState::kCreated:
    case ContainerState::kUnknown:
      // Exiting: its monitor is still writing the exit, which arrives as
      // an event; look again soon in any case.
      break;
  }
  return {absl::OkStatus(), kBusyRequeue};
}

ReconcileResult Reconciler::HandleExit(const NodeContainer& object,
                                       const ContainerStatus& observed) {
  const bool succeeded = observed.exit_code.has_value() && *observed.exit_code == 0;
  const RestartPolicy policy = object.spec.restart_policy;
  if (policy == RestartPolicy::kNever || (policy == RestartPolicy::kOnFailure && succeeded)) {
    Report(object, &observed, succeeded ? "Succeeded" : "Failed", "", "");
    return {};
  }
  const absl::Time now = clock_.Now();
  absl::Time restart_at;
  bool first_sight_backoff = false;
  {
    absl::MutexLock l(&mu_);
    auto it = exits_.find(observed.id);
    if (it == exits_.end() || it->second.created_at != observed.created_at) {
      // The first sight of this instance's exit. One whose time was lost
      // counts from now.
      const absl::Time finished =
          observed.finished_at != absl::InfinitePast() ? observed.finished_at : now;
      absl::Duration delay = backoff_.OnExit(observed.id, observed.started_at, finished);
      it = exits_.insert_or_assign(observed.id, ExitSeen{observed.created_at, finished + delay})
               .first;
      if (finished + delay > now) first_sight_backoff = true;
    }
    restart_at = it->second.restart_at;
  }
  if (now < restart_at) {
    if (first_sight_backoff) {
      Event(object, EventType::kWarning, "BackOff",
            absl::StrCat("Back-off restarting failed container ", object.metadata.name));
    }
    Report(object, &observed, "CrashLoopBackOff", "",
           absl::StrCat("back-off ", absl::FormatDuration(absl::Ceil(restart_at - now, absl::Seconds(1))),
                        " restarting failed container"));
    return {absl::OkStatus(), restart_at - now};
  }
  runtime::ContainerSpec spec;
  if (auto wait = Prepare(object, &observed, &spec)) return *wait;
  {
    absl::MutexLock l(&mu_);
    PendingRestart& p = pending_[observed.id];
    p.restart_count =
        static_cast<int>(IntAnnotation(observed.annotations, kRestartCountAnnotation, 0)) + 1;
    p.last_exit_code = observed.exit_code;
    p.last_exit_reason = observed.reason;
  }
  if (absl::Status s = runtime_.Delete(observed.id); !s.ok()) return {s};
  return CreateAndStart(object, std::move(spec));
}

std::optional<ReconcileResult> Reconciler::Prepare(const NodeContainer& object,
                                                   const ContainerStatus* observed,
                                                   runtime::ContainerSpec* spec) {
  const std::string id = ContainerIdFor(object.metadata);
  const std::string& image = object.spec.image;
  const bool running = observed != nullptr && observed->state == ContainerState::kRunning;
  const std::string waiting_phase = running ? "Running" : "Pending";
  const absl::Time now = clock_.Now();
  std::optional<PullFailure> failure;
  {
    absl::MutexLock l(&mu_);
    auto it = pulls_.find(id);
    if (it != pulls_.end() && it->second.image == image && now < it->second.retry_at) {
      failure = it->second;
    }
  }
  if (failure.has_value()) {
    Report(object, observed, waiting_phase, failure->error,
           absl::StrCat("Back-off pulling image \"", image, "\""), "ImagePullBackOff");
    return ReconcileResult{absl::OkStatus(), failure->retry_at - now};
  }
  PullAuth auth;
  if (options_.pull_auth) {
    absl::StatusOr<PullAuth> a = options_.pull_auth(object);
    if (!a.ok()) {
      Report(object, observed, waiting_phase, std::string(a.status().message()), "",
             "ErrImagePull");
      Event(object, EventType::kWarning, "Failed", absl::StrCat("Error: ", a.status().message()));
      return ReconcileResult{a.status()};
    }
    auth = *std::move(a);
  }
  const ImagePullPolicy policy = EffectivePullPolicy(object.spec);
  const bool pulls = images_.WouldPull(image, policy);
  if (pulls) Event(object, EventType::kNormal, "Pulling", absl::StrCat("Pulling image \"", image, "\""));
  const absl::Time began = absl::Now();
  absl::StatusOr<ResolvedImage> resolved = images_.Resolve(image, policy, auth);
  if (!resolved.ok()) {
    // Pulls are cancelled when berthd stops: nothing failed, nothing to say.
    if (absl::IsCancelled(resolved.status())) return ReconcileResult{resolved.status()};
    const std::string error(resolved.status().message());
    if (absl::IsInvalidArgument(resolved.status())) {
      Report(object, observed, waiting_phase, error, "", "InvalidImageName");
      Event(object, EventType::kWarning, "InspectFailed", error);
      return ReconcileResult{resolved.status()};
    }
    const bool never = policy == ImagePullPolicy::kNever;
    absl::Duration delay;
    {
      absl::MutexLock l(&mu_);
      delay = pull_backoff_.OnExit(id, now, now);
      pulls_[id] = PullFailure{image, now + delay, error};
    }
    Report(object, observed, waiting_phase, error, "", never ? "ErrImageNeverPull" : "ErrImagePull");
    Event(object, EventType::kWarning, never ? "ErrImageNeverPull" : "Failed",
          never ? absl::StrCat("Container image \"", image,
                               "\" is not present with pull policy of Never")
                : absl::StrCat("Failed to pull image \"", image, "\": ", error));
    return ReconcileResult{absl::OkStatus(), delay};
  }
  {
    absl::MutexLock l(&mu_);
    pulls_.erase(id);
    pull_backoff_.Forget(id);
  }
  // kubelet's events: Pulled after a pull, or that the image is present.
  if (resolved->pulled) {
    Event(object, EventType::kNormal, "Pulled",
          absl::StrCat("Successfully pulled image \"", image, "\" in ",
                       absl::FormatDuration(absl::Trunc(absl::Now() - began, absl::Milliseconds(1)))));
  } else if (!pulls) {
    Event(object, EventType::kNormal, "Pulled",
          absl::StrCat("Container image \"", image, "\" already present on machine"));
  }
  absl::StatusOr<runtime::ContainerSpec> built = BuildContainerSpec(object, *resolved);
  if (!built.ok()) {
    // What runs keeps running: nothing is lost while the spec cannot be built.
    Report(object, observed, running ? "Running" : "Error", std::string(built.status().message()),
           "");
    Event(object, EventType::kWarning, "Failed", absl::StrCat("Error: ", built.status().message()));
    return ReconcileResult{built.status()};
  }
  *spec = *std::move(built);
  return std::nullopt;
}

void Reconciler::Event(const NodeContainer& object, EventType type, absl::string_view reason,
                       const std::string& message) {
  EventRecorder& events = options_.events != nullptr ? *options_.events : log_events_;
  events.Record(object, type, reason, message);
}

void Reconciler::Report(const NodeContainer& object, const ContainerStatus* observed,
                        const std::string& phase, const std::string& last_error,
                        const std::string& message, const std::string& reason) {
  ContainerReport r;
  r.id = ContainerIdFor(object.metadata);
  r.namespace_ = object.metadata.namespace_;
  r.name = object.metadata.name;
  r.phase = phase;
  r.observed_generation = object.metadata.generation;
  r.image = object.spec.image;
  r.last_error = last_error;
  r.message = message;
  if (observed != nullptr) {
    r.container_id = observed->id;
    if (auto it = observed->annotations.find(kImageIdAnnotation); it != observed->annotations.end()) {
      r.image_id = it->second;
    }
    r.pid = observed->pid;
    r.started_at = observed->started_at;
    r.finished_at = observed->finished_at;
    r.exit_code = observed->exit_code;
    r.reason = observed->reason;
    r.restart_count =
        static_cast<int>(IntAnnotation(observed->annotations, kRestartCountAnnotation, 0));
    if (observed->annotations.count(kLastExitCodeAnnotation) != 0) {
      r.last_exit_code =
          static_cast<int>(IntAnnotation(observed->annotations, kLastExitCodeAnnotation, 0));
    }
    auto last = observed->annotations.find(kLastExitReasonAnnotation);
    if (last != observed->annotations.end()) r.last_exit_reason = last->second;
  }
  if (!reason.empty()) r.reason = reason;
  status_.Report(r);
}

}  // namespace berth::controller
