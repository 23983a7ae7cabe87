#include "controller/reconciler.h"

#include "absl/strings/str_cat.h"
#include "controller/desired_state.h"
#include "controller/spec/container_annotations.h"
#include "spdlog/spdlog.h"

namespace berth::controller {

using runtime::ContainerStatus;

Reconciler::Reconciler(runtime::Runtime& runtime, DesiredLookup desired,
                       const image::ImageStore& images, StatusSink& status, const Clock& clock,
                       ReconcilerOptions options)
    : runtime_(runtime),
      desired_(std::move(desired)),
      images_(images),
      status_(status),
      clock_(clock),
      options_(std::move(options)),
      memory_(options_.backoff, options_.pending_restarts_dir),
      hooks_(runtime_, clock_,
             LifecycleHooksOptions{options_.actions, options_.hook_records_dir,
                                   options_.post_start_timeout}) {}

ReconcileResult Reconciler::Reconcile(const std::string& id) {
  // Read both sides.
  Observation in;
  in.id = id;
  in.object = desired_(id);
  if (in.object.has_value() && in.object->metadata.deletion_timestamp.empty()) {
    // Asked before the labels: labels read first could be older than a
    // "known" that follows them.
    const bool labels_known = !options_.node_labels_known || options_.node_labels_known();
    in.wanted = Classify(
        in.object, options_.node_name,
        options_.current_node_labels ? options_.current_node_labels() : options_.node_labels,
        labels_known);
  } else {
    in.wanted = Classify(in.object, options_.node_name, {}, true);
  }
  absl::StatusOr<ContainerStatus> observed = runtime_.State(id);
  if (!observed.ok() && !absl::IsNotFound(observed.status())) return {observed.status()};
  if (observed.ok()) in.observed = *std::move(observed);
  in.keep_undesired = in.wanted == Wanted::kNotHeld && in.observed.has_value() &&
                      !IsLeftoverRecord(*in.observed) && options_.keep_undesired &&
                      options_.keep_undesired(*in.observed);
  in.memory = memory_.Get(id);
  in.backoff = memory_.options();
  in.now = clock_.Now();
  // Decide, then act.
  return Carry(ComputeActions(in));
}

uint64_t Reconciler::RequestRestart(const std::string& id) { return memory_.RequestRestart(id); }

uint64_t Reconciler::RequestKill(const std::string& id, KillRequest kill) {
  return memory_.RequestKill(id, std::move(kill));
}

ReconcileResult Reconciler::Carry(ContainerActions a) {
  const std::string& id = a.id;
  const NodeContainer* object = a.object.has_value() ? &*a.object : nullptr;
  if (a.labels_unknown) {
    spdlog::debug("container {}: this node's labels are not known yet; decided later", id);
  }
  if (a.kept) {
    spdlog::debug("keep container {}: its source cannot say now whether it is wanted", id);
  }
  // 1. A record a failed create or delete left.
  if (a.delete_leftover.has_value()) {
    spdlog::warn("container {}: left {} by an earlier failure; removing it", id,
                 *a.delete_leftover);
    if (absl::Status s = runtime_.Delete(id); !s.ok()) return {s};
  }
  // 2, 3. An unwanted container goes, and all that is known of it.
  if (a.remove.has_value()) {
    spdlog::info("{}", a.remove->why);
    if (absl::Status s = StopAndDelete(*a.remove, object); !s.ok()) return {s};
  }
  if (a.forget) {
    // The status file last: while it is there, a berthd started after a
    // crash here reconciles the id, and forgets it then.
    memory_.Forget(id);
    status_.Remove(id);
    if (options_.forget_health) options_.forget_health(id);
  }
  // 3b. A probe's kill: stopped, kept; the next look sees the exit.
  if (a.kill.has_value()) {
    spdlog::info("{}", a.kill->why);
    if (absl::Status s = StopAndDelete(*a.kill, object); !s.ok()) return {s};
    memory_.ConsumeKill(id, a.consume_kill);
    return Reconcile(id);
  }
  if (a.consume_kill != 0) memory_.ConsumeKill(id, a.consume_kill);
  // 4. Then its object's finalizer.
  if (a.release.has_value()) {
    if (!options_.release) return {};
    return {options_.release(*a.release)};
  }
  // 5-7. What was seen, said.
  if (a.record_exit.has_value()) memory_.RecordExit(id, a.record_exit->seen, a.record_exit->delay);
  for (const EventRecord& e : a.events) Event(*object, e);
  if (a.report.has_value()) Report(*object, *a.report);
  // 8. A running container's object carries this node's finalizer.
  if (a.claim_running) {
    if (options_.claim) return {options_.claim(*object)};
    return {};
  }
  // 9. Created but never started.
  if (a.start_created) {
    if (options_.claim) {
      if (absl::Status s = options_.claim(*object); !s.ok()) return {s};
    }
    if (absl::Status s = runtime_.Start(id); !s.ok()) return {s};
    return Started(*object, id);
  }
  // 10. The image and the spec, before anything that runs is touched.
  runtime::ContainerSpec spec;
  if (a.prepare) {
    if (auto wait = Prepare(id, *object, a.prepare_observed, &spec)) return *wait;
  }
  // 11, 12. The old container makes way.
  if (a.record_pending.has_value()) {
    if (absl::Status s = memory_.RecordPending(id, *a.record_pending); !s.ok()) return {s};
  }
  if (a.replace.has_value()) {
    if (!a.replace->why.empty()) spdlog::info("{}", a.replace->why);
    if (absl::Status s = StopAndDelete(*a.replace, object); !s.ok()) return {s};
    if (a.forget_after_replace) memory_.Forget(id);
  }
  if (a.consume_restart != 0) memory_.ConsumeRestart(id, a.consume_restart);
  // 13. The new one.
  if (a.create) return CreateAndStart(*object, std::move(spec), a.restart);
  return {absl::OkStatus(), a.requeue_after};
}

absl::Status Reconciler::StopAndDelete(const Removal& removal, const NodeContainer* object) {
  if (removal.stop) {
    if (removal.killing.has_value() && object != nullptr) Event(*object, *removal.killing);
    if (absl::Status s = StopRunning(removal.id, removal.grace, object); !s.ok()) return s;
  }
  if (removal.keep) return absl::OkStatus();
  absl::Status s = runtime_.Delete(removal.id);
  if (s.ok()) hooks_.Forget(removal.id);
  return s;
}

absl::Status Reconciler::StopRunning(const std::string& id, absl::Duration grace,
                                     const NodeContainer* object) {
  StopOutcome o = hooks_.Stop(id, grace);
  if (o.pre_stop.failed) {
    const std::string message = absl::StrCat("PreStop hook failed: ", o.pre_stop.output);
    if (object != nullptr) {
      Event(*object, {EventType::kWarning, "FailedPreStopHook", message});
    } else {
      spdlog::warn("container {}: FailedPreStopHook: {}", id, message);
    }
  }
  return o.status;
}

ReconcileResult Reconciler::CreateAndStart(const NodeContainer& object, runtime::ContainerSpec spec,
                                           const PendingRestart& restart) {
  const std::string id = spec.id;
  if (options_.claim) {
    if (absl::Status s = options_.claim(object); !s.ok()) return {s};
  }
  ContainerAnnotations annotations = ContainerAnnotations::Decode(spec.annotations);
  annotations.restart_count = restart.restart_count;
  annotations.last_exit_code = restart.last_exit_code;
  annotations.last_exit_reason = restart.last_exit_reason;
  annotations.EncodeInto(&spec.annotations);
  auto failed = [&](const absl::Status& s) {
    Report(object, MakeReport(Phase::kError, std::nullopt, std::string(s.message())));
    Event(object, {EventType::kWarning, "Failed", absl::StrCat("Error: ", s.message())});
    return ReconcileResult{s};
  };
  if (absl::Status s = runtime_.Create(spec); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      // Remains the runtime does not report as a container (a directory a
      // failed delete left): clear them; the retry creates.
      if (absl::Status d = runtime_.Delete(id); !d.ok()) spdlog::error("{}", d.ToString());
    }
    return failed(s);
  }
  Event(object,
        {EventType::kNormal, "Created", absl::StrCat("Created container ", object.metadata.name)});
  if (absl::Status s = runtime_.Start(id); !s.ok()) {
    // Never leave a created-but-not-started container behind a failure.
    if (absl::Status d = runtime_.Delete(id); !d.ok()) spdlog::error("{}", d.ToString());
    return failed(s);
  }
  Event(object,
        {EventType::kNormal, "Started", absl::StrCat("Started container ", object.metadata.name)});
  memory_.ClearPending(id);
  spdlog::info(
      "started container {}{}{}", id, RealNameNote(object.metadata),
      restart.restart_count > 0 ? absl::StrCat(" (restart ", restart.restart_count, ")") : "");
  return Started(object, id);
}

ReconcileResult Reconciler::Started(const NodeContainer& object, const std::string& id) {
  if (object.spec.lifecycle.post_start.has_value()) {
    absl::StatusOr<ContainerStatus> started = runtime_.State(id);
    if (!started.ok()) return {started.status()};
    const HookOutcome hook = hooks_.PostStart(object, *started);
    if (hook.failed) {
      // kubelet's startContainer: the event, then kill the container; its
      // exit is then decided as any exit (restart policy, back-off).
      const absl::Duration grace = ContainerAnnotations::Decode(started->annotations).grace_period;
      Event(object, {EventType::kWarning, "FailedPostStartHook",
                     absl::StrCat("PostStart hook failed: ", hook.output)});
      Event(object, {EventType::kNormal, "Killing",
                     absl::StrCat("Stopping container ", object.metadata.name,
                                  ": its postStart hook failed (grace period ",
                                  absl::FormatDuration(grace), ")")});
      if (absl::Status s = StopRunning(id, grace, &object); !s.ok()) return {s};
    }
  }
  return AfterStart(object, id);
}

ReconcileResult Reconciler::AfterStart(const NodeContainer& object, const std::string& id) {
  absl::StatusOr<ContainerStatus> now = runtime_.State(id);
  if (!now.ok()) return {now.status()};
  return Carry(DecideAfterStart(object, *now, memory_.Get(id), memory_.options(), clock_.Now()));
}

std::optional<ReconcileResult> Reconciler::Prepare(const std::string& id,
                                                   const NodeContainer& object,
                                                   const std::optional<ContainerStatus>& observed,
                                                   runtime::ContainerSpec* spec) {
  const std::string& image = object.spec.image;
  const absl::Time now = clock_.Now();
  PullOutcome outcome;
  auto decided = [&]() -> std::optional<ReconcileResult> {
    const ImageActions d =
        DecideAfterPull(object, observed, outcome, memory_.Get(id), memory_.options(), now);
    Apply(id, object, d);
    if (d.ready) return std::nullopt;
    return ReconcileResult{d.status, d.requeue_after};
  };
  image::PullAuth auth;
  if (options_.pull_auth) {
    absl::StatusOr<image::PullAuth> a = options_.pull_auth(object);
    if (!a.ok()) {
      outcome.kind = PullOutcome::Kind::kAuthFailed;
      outcome.status = a.status();
      return decided();
    }
    auth = *std::move(a);
  }
  outcome.policy = EffectivePullPolicy(object.spec);
  outcome.would_pull = images_.WouldPull(image, outcome.policy);
  if (auto pulling = BeforePull(object, outcome.would_pull)) Event(object, *pulling);
  const absl::Time began = absl::Now();
  absl::StatusOr<image::ResolvedImage> resolved = images_.Resolve(image, outcome.policy, auth);
  if (resolved.ok()) {
    outcome.pulled = resolved->pulled;
    outcome.took = absl::Now() - began;
  } else {
    outcome.kind = PullOutcome::Kind::kFailed;
    outcome.status = resolved.status();
  }
  if (auto wait = decided()) return wait;
  absl::StatusOr<runtime::ContainerSpec> built = BuildContainerSpec(object, *resolved);
  if (!built.ok()) {
    const ImageActions d = DecideAfterBuildFailure(object, observed, built.status());
    Apply(id, object, d);
    return ReconcileResult{d.status};
  }
  *spec = *std::move(built);
  return std::nullopt;
}

void Reconciler::Apply(const std::string& id, const NodeContainer& object, const ImageActions& d) {
  if (d.forget_pull_failure) memory_.ForgetPull(id);
  if (d.record_pull_failure.has_value()) {
    memory_.RecordPullFailure(id, *d.record_pull_failure, d.pull_delay);
  }
  if (d.report.has_value()) Report(object, *d.report);
  for (const EventRecord& e : d.events) Event(object, e);
}

void Reconciler::Event(const NodeContainer& object, const EventRecord& event) {
  EventRecorder& events = options_.events != nullptr ? *options_.events : log_events_;
  events.Record(object, event.type, event.reason, event.message);
}

void Reconciler::Report(const NodeContainer& object, const ReportRecord& report) {
  ContainerReport r;
  r.id = ContainerIdFor(object.metadata);
  r.namespace_ = object.metadata.namespace_;
  r.name = object.metadata.name;
  r.phase = PhaseName(report.phase);
  r.observed_generation = object.metadata.generation;
  r.image = object.spec.image;
  r.last_error = report.last_error;
  r.message = report.message;
  if (report.observed.has_value()) {
    SetObserved(*report.observed, &r);
  }
  if (!report.reason.empty()) r.reason = report.reason;
  const runtime::ContainerStatus* running =
      report.observed.has_value() && report.observed->state == runtime::ContainerState::kRunning
          ? &*report.observed
          : nullptr;
  r.ready =
      options_.observe_health ? options_.observe_health(r.id, object, running) : running != nullptr;
  status_.Report(r);
}

}  // namespace berth::controller
