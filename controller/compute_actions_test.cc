// Every decision the reconciler makes, as tables over values: no runtime,
// no image store, no clock. Each row's actions are written as one line (see
// Summary) so that a row reads as "given this, do that".
#include "controller/compute_actions.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/desired_state.h"
#include "controller/spec/container_annotations.h"
#include "controller/spec/legacy_spec_hash.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;

const absl::Time kNow = absl::FromUnixSeconds(2000);
const absl::Time kCreated = absl::FromUnixSeconds(1000);

std::string Summary(const ContainerActions& a) {
  std::vector<std::string> p;
  if (a.labels_unknown) p.push_back("labels-unknown");
  if (a.kept) p.push_back("kept");
  if (a.delete_leftover) p.push_back("delete-leftover " + *a.delete_leftover);
  auto removal = [](const Removal& r) {
    return absl::StrCat(r.stop ? absl::StrCat("stop ", absl::FormatDuration(r.grace)) : "delete",
                        r.killing ? " killing" : "");
  };
  if (a.remove) p.push_back(absl::StrCat("remove(", removal(*a.remove), ")"));
  if (a.forget) p.push_back("forget");
  if (a.release) {
    p.push_back(absl::StrCat("release ", a.release->metadata.namespace_, "/",
                             a.release->metadata.name,
                             a.release->origin.empty() ? "" : " from " + a.release->origin));
  }
  if (a.record_exit) p.push_back("exit-seen next " + absl::FormatDuration(a.record_exit->delay));
  for (const EventRecord& e : a.events) p.push_back("event " + e.reason);
  if (a.report) {
    p.push_back(absl::StrCat("report ", PhaseName(a.report->phase),
                             a.report->reason.empty() ? "" : "/" + a.report->reason));
  }
  if (a.claim_running) p.push_back("claim");
  if (a.start_created) p.push_back("start-created");
  if (a.prepare) p.push_back("prepare");
  if (a.record_pending) p.push_back(absl::StrCat("pending ", a.record_pending->restart_count));
  if (a.replace) p.push_back(absl::StrCat("replace(", removal(*a.replace), ")"));
  if (a.forget_after_replace) p.push_back("forget");
  if (a.consume_restart != 0) p.push_back(absl::StrCat("consume-restart ", a.consume_restart));
  if (a.create) p.push_back(absl::StrCat("create r", a.restart.restart_count));
  if (a.requeue_after != absl::ZeroDuration()) {
    p.push_back("requeue " + absl::FormatDuration(a.requeue_after));
  }
  return absl::StrJoin(p, ", ");
}

NodeContainer Web() {
  NodeContainer o;
  o.metadata.namespace_ = "default";
  o.metadata.name = "web";
  o.origin = "api";
  o.spec.image = "busybox";
  o.spec.command = {"sleep", "1000"};
  o.spec.termination_grace_period_seconds = 7;
  return o;
}

ContainerStatus Container(ContainerState state, const NodeContainer& o = Web()) {
  ContainerStatus c;
  c.id = "default.web";
  c.state = state;
  c.created_at = kCreated;
  c.started_at = kNow - absl::Seconds(30);
  ContainerAnnotations a;
  a.spec_hash = DesiredSpecHash(o);
  a.namespace_ = o.metadata.namespace_;
  a.name = o.metadata.name;
  a.grace_period = absl::Seconds(o.spec.termination_grace_period_seconds);
  a.source = o.origin;
  a.image = o.spec.image;
  a.restart_count = 3;
  c.annotations = a.Encode();
  return c;
}

ContainerStatus Exited(std::optional<int> code) {
  ContainerStatus c = Container(ContainerState::kStopped);
  c.exit_code = code;
  c.reason = !code ? "ExitCodeLost" : *code == 0 ? "Completed" : "Error";
  c.finished_at = code ? kNow : absl::InfinitePast();
  return c;
}

// A running container of `web`, wanted here, nothing remembered.
Observation Base() {
  Observation in;
  in.id = "default.web";
  in.object = Web();
  in.wanted = Wanted::kRun;
  in.observed = Container(ContainerState::kRunning);
  in.backoff.initial = absl::Seconds(10);
  in.backoff.max = absl::Seconds(40);
  in.now = kNow;
  return in;
}

struct Row {
  std::string name;
  std::function<void(Observation&)> given;
  std::string want;
};

void RunTable(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    Observation in = Base();
    row.given(in);
    EXPECT_EQ(Summary(ComputeActions(in)), row.want) << row.name;
  }
}

void Remember(Observation& in, absl::Time restart_at) {
  in.memory.exit = ExitSeen{kCreated, restart_at};
  in.memory.exit_delay = absl::Seconds(10);
}

TEST(ComputeActionsTest, RestartPolicyTimesExitCodeTimesBackOff) {
  // kFirst: nothing remembered (restarted at once, as kubelet does);
  // kSecond: an earlier restart left a 10s entry; kWaiting/kElapsed: this
  // exit was seen and its back-off runs/has passed.
  enum class Backoff { kFirst, kSecond, kWaiting, kElapsed };
  const std::string restart = "prepare, pending 4, replace(delete), create r4";
  struct Case {
    RestartPolicy policy;
    std::optional<int> code;
    Backoff backoff;
    std::string want;
  };
  const std::string first = "exit-seen next 10s, " + restart;
  const std::string second =
      "exit-seen next 20s, event BackOff, report CrashLoopBackOff, requeue 10s";
  const std::string waiting = "report CrashLoopBackOff, requeue 5s";
  std::vector<Case> cases;
  for (Backoff b : {Backoff::kFirst, Backoff::kSecond, Backoff::kWaiting, Backoff::kElapsed}) {
    const std::string looping = b == Backoff::kFirst     ? first
                                : b == Backoff::kSecond  ? second
                                : b == Backoff::kWaiting ? waiting
                                                         : restart;
    cases.push_back({RestartPolicy::kAlways, 0, b, looping});
    cases.push_back({RestartPolicy::kAlways, 1, b, looping});
    cases.push_back({RestartPolicy::kAlways, std::nullopt, b, looping});
    cases.push_back({RestartPolicy::kOnFailure, 0, b, "report Succeeded"});
    cases.push_back({RestartPolicy::kOnFailure, 1, b, looping});
    cases.push_back({RestartPolicy::kOnFailure, std::nullopt, b, looping});
    cases.push_back({RestartPolicy::kNever, 0, b, "report Succeeded"});
    cases.push_back({RestartPolicy::kNever, 1, b, "report Failed"});
    cases.push_back({RestartPolicy::kNever, std::nullopt, b, "report Failed"});
  }
  for (const Case& c : cases) {
    Observation in = Base();
    in.object->spec.restart_policy = c.policy;
    in.observed = Exited(c.code);
    if (c.backoff == Backoff::kSecond) {
      in.memory.exit = ExitSeen{kCreated - absl::Seconds(1), kNow};  // an older instance
      in.memory.exit_delay = absl::Seconds(10);
    }
    if (c.backoff == Backoff::kWaiting) Remember(in, kNow + absl::Seconds(5));
    if (c.backoff == Backoff::kElapsed) Remember(in, kNow - absl::Seconds(1));
    EXPECT_EQ(Summary(ComputeActions(in)), c.want)
        << "policy " << static_cast<int>(c.policy) << " exit "
        << (c.code ? std::to_string(*c.code) : "unknown") << " backoff "
        << static_cast<int>(c.backoff);
  }
}

TEST(ComputeActionsTest, BackOffDetails) {
  RunTable({
      {"a first exit restarts at once (kubelet: no back-off entry yet)",
       [](Observation& in) { in.observed = Exited(1); },
       "exit-seen next 10s, prepare, pending 4, replace(delete), create r4"},
      {"a later exit waits the entry, and the entry doubles",
       [](Observation& in) {
         in.observed = Exited(1);
         in.memory.exit = ExitSeen{kCreated - absl::Seconds(1), kNow};  // an older instance
         in.memory.exit_delay = absl::Seconds(20);
       },
       "exit-seen next 40s, event BackOff, report CrashLoopBackOff, requeue 20s"},
      {"the entry stops at max",
       [](Observation& in) {
         in.observed = Exited(1);
         in.memory.exit_delay = absl::Seconds(40);
       },
       "exit-seen next 40s, event BackOff, report CrashLoopBackOff, requeue 40s"},
      {"a long run resets it: restarted at once",
       [](Observation& in) {
         in.observed = Exited(1);
         in.observed->started_at = kNow - absl::Hours(1);
         in.memory.exit_delay = absl::Seconds(40);
       },
       "exit-seen next 10s, prepare, pending 4, replace(delete), create r4"},
      {"a lost exit time counts from now",
       [](Observation& in) {
         in.observed = Exited(std::nullopt);
         in.memory.exit_delay = absl::Seconds(10);
       },
       "exit-seen next 20s, event BackOff, report CrashLoopBackOff, requeue 10s"},
      {"an exit long ago whose delay has passed restarts at once",
       [](Observation& in) {
         in.observed = Exited(1);
         in.observed->finished_at = kNow - absl::Minutes(1);
         in.memory.exit_delay = absl::Seconds(10);
       },
       "exit-seen next 20s, prepare, pending 4, replace(delete), create r4"},
  });
  Observation in = Base();
  in.observed = Exited(2);
  in.memory.exit = ExitSeen{kCreated, kNow + absl::Milliseconds(4500)};
  ContainerActions a = ComputeActions(in);
  ASSERT_TRUE(a.report.has_value());
  EXPECT_EQ(a.report->message, "back-off 5s restarting failed container");
  in.memory.exit.reset();
  a = ComputeActions(in);
  EXPECT_TRUE(a.events.empty()) << "a first exit: no BackOff event";
  EXPECT_FALSE(a.report.has_value());
  in.memory.exit_delay = absl::Seconds(10);
  a = ComputeActions(in);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0], (EventRecord{EventType::kWarning, "BackOff",
                                      "Back-off restarting failed container web"}));
  Remember(in, kNow - absl::Seconds(1));
  a = ComputeActions(in);
  ASSERT_TRUE(a.record_pending.has_value());
  EXPECT_EQ(a.record_pending->last_exit_code, 2);
  EXPECT_EQ(a.record_pending->last_exit_reason, "Error");
}

TEST(ComputeActionsTest, PullBackOffBeforeEveryPull) {
  auto failed = [](Observation& in, const std::string& image) {
    in.memory.pull = PullFailure{image, kNow + absl::Seconds(6), "registry down"};
    in.memory.pull_delay = absl::Seconds(10);
  };
  RunTable({
      {"create: waits",
       [&](Observation& in) {
         in.observed.reset();
         failed(in, "busybox");
       },
       "report Pending/ImagePullBackOff, requeue 6s"},
      {"create: another image's failure does not count",
       [&](Observation& in) {
         in.observed.reset();
         failed(in, "alpine");
       },
       "prepare, create r0"},
      {"create: the back-off passed",
       [&](Observation& in) {
         in.observed.reset();
         failed(in, "busybox");
         in.now = kNow + absl::Seconds(6);
       },
       "prepare, create r0"},
      {"recreate: the old one keeps running",
       [&](Observation& in) {
         in.object->spec.command = {"sleep", "2"};
         failed(in, "busybox");
       },
       "report Running/ImagePullBackOff, requeue 6s"},
      {"restart: the exit is remembered, the pull waited for",
       [&](Observation& in) {
         in.observed = Exited(1);
         Remember(in, kNow);
         failed(in, "busybox");
       },
       "report Pending/ImagePullBackOff, requeue 6s"},
  });
}

TEST(ComputeActionsTest, SpecAndState) {
  RunTable({
      {"running, up to date: reported and claimed", [](Observation&) {}, "report Running, claim"},
      {"paused counts as running",
       [](Observation& in) { in.observed = Container(ContainerState::kPaused); },
       "report Running, claim"},
      {"created, never started",
       [](Observation& in) { in.observed = Container(ContainerState::kCreated); }, "start-created"},
      {"absent: created", [](Observation& in) { in.observed.reset(); }, "prepare, create r0"},
      {"absent after a failed restart: the count is kept",
       [](Observation& in) {
         in.observed.reset();
         in.memory.pending = PendingRestart{2, 1, "Error"};
       },
       "prepare, create r2"},
      {"spec changed: the new image first, then stop with the old grace period",
       [](Observation& in) {
         in.object->spec.command = {"sleep", "2"};
         in.object->spec.termination_grace_period_seconds = 99;
       },
       "prepare, replace(stop 7s killing), forget, create r0"},
      {"spec changed on an exited container: deleted, not stopped",
       [](Observation& in) {
         in.object->spec.command = {"sleep", "2"};
         in.observed = Exited(1);
       },
       "prepare, replace(delete), forget, create r0"},
      {"no hash on the container: recreated",
       [](Observation& in) { in.observed->annotations.erase(kSpecHashAnnotation); },
       "prepare, replace(stop 7s killing), forget, create r0"},
      {"a container of v0.1.0 carrying that release's hash of this spec is kept",
       [](Observation& in) {
         in.observed->annotations[kSpecHashAnnotation] = LegacySpecHash(*in.object);
       },
       "report Running, claim"},
      {"a container of v0.1.0 whose spec changed since is recreated",
       [](Observation& in) {
         in.observed->annotations[kSpecHashAnnotation] = LegacySpecHash(*in.object);
         in.object->spec.command = {"sleep", "2"};
       },
       "prepare, replace(stop 7s killing), forget, create r0"},
      {"labels and grace period alone do not recreate",
       [](Observation& in) {
         in.object->metadata.labels["tier"] = "front";
         in.object->spec.termination_grace_period_seconds = 99;
       },
       "report Running, claim"},
  });
}

TEST(ComputeActionsTest, RestartRequested) {
  auto requested = [](std::function<void(Observation&)> also) {
    return [also](Observation& in) {
      in.memory.restart_request = 5;
      also(in);
    };
  };
  RunTable({
      {"running: recreated as for a new spec, the count starts again",
       requested([](Observation&) {}),
       "prepare, replace(stop 7s killing), forget, consume-restart 5, create r0"},
      {"paused: the same",
       requested([](Observation& in) { in.observed = Container(ContainerState::kPaused); }),
       "prepare, replace(stop 7s killing), forget, consume-restart 5, create r0"},
      {"created, never started: recreated",
       requested([](Observation& in) { in.observed = Container(ContainerState::kCreated); }),
       "prepare, replace(stop 7s killing), forget, consume-restart 5, create r0"},
      {"exited in back-off: recreated now, deleted not stopped", requested([](Observation& in) {
         in.observed = Exited(1);
         Remember(in, kNow + absl::Seconds(30));
       }),
       "prepare, replace(delete), forget, consume-restart 5, create r0"},
      {"a pull backing off waits, the request kept", requested([](Observation& in) {
         in.memory.pull = PullFailure{"busybox", kNow + absl::Seconds(4), "no"};
       }),
       "report Running/ImagePullBackOff, requeue 4s"},
      {"gone meanwhile: the create answers it",
       requested([](Observation& in) { in.observed.reset(); }),
       "prepare, consume-restart 5, create r0"},
      {"spec changed too: one recreate answers both", requested([](Observation& in) {
         in.object->spec.command = {"sleep", "2"};
       }),
       "prepare, replace(stop 7s killing), forget, consume-restart 5, create r0"},
      {"its exit being written: looked at again", requested([](Observation& in) {
         in.observed = Container(ContainerState::kUnknown);
         in.observed->reason = "Exiting";
       }),
       "requeue 1s"},
      {"no longer wanted: removed, the request forgotten with the rest",
       requested([](Observation& in) {
         in.object.reset();
         in.wanted = Wanted::kNotHeld;
       }),
       "remove(stop 7s), forget, release default/web from api"},
  });
}

TEST(ComputeActionsTest, LeftoverRecords) {
  auto leftover = [](const char* reason) {
    return [reason](Observation& in) {
      in.observed = Container(ContainerState::kUnknown);
      in.observed->reason = reason;
    };
  };
  RunTable({
      {"Creating, wanted", leftover("Creating"), "delete-leftover Creating, prepare, create r0"},
      {"Deleting, wanted", leftover("Deleting"), "delete-leftover Deleting, prepare, create r0"},
      {"Exiting: waited for", leftover("Exiting"), "requeue 1s"},
      {"Deleting, not held: nothing left to remove",
       [&](Observation& in) {
         leftover("Deleting")(in);
         in.object.reset();
         in.wanted = Wanted::kNotHeld;
       },
       "delete-leftover Deleting, forget"},
      {"Creating, being deleted: released",
       [&](Observation& in) {
         leftover("Creating")(in);
         in.wanted = Wanted::kBeingDeleted;
       },
       "delete-leftover Creating, forget, release default/web from api"},
      {"Exiting, not held: removed (no stop)",
       [&](Observation& in) {
         leftover("Exiting")(in);
         in.object.reset();
         in.wanted = Wanted::kNotHeld;
       },
       "remove(delete), forget, release default/web from api"},
  });
}

TEST(ComputeActionsTest, Deletion) {
  auto not_held = [](Observation& in) {
    in.object.reset();
    in.wanted = Wanted::kNotHeld;
  };
  RunTable({
      {"being deleted: stopped, then released",
       [](Observation& in) { in.wanted = Wanted::kBeingDeleted; },
       "remove(stop 7s killing), forget, release default/web from api"},
      {"being deleted, even when the guard would keep it",
       [](Observation& in) {
         in.wanted = Wanted::kBeingDeleted;
         in.keep_undesired = true;
       },
       "remove(stop 7s killing), forget, release default/web from api"},
      {"being deleted, exited: deleted",
       [](Observation& in) {
         in.wanted = Wanted::kBeingDeleted;
         in.observed = Exited(0);
       },
       "remove(delete), forget, release default/web from api"},
      {"being deleted, gone: released again",
       [](Observation& in) {
         in.wanted = Wanted::kBeingDeleted;
         in.observed.reset();
       },
       "forget, release default/web from api"},
      {"not held: removed, released by the names on the container", not_held,
       "remove(stop 7s), forget, release default/web from api"},
      {"not held, no names on the container: not released",
       [&](Observation& in) {
         not_held(in);
         in.observed->annotations.erase(kNameAnnotation);
       },
       "remove(stop 7s), forget"},
      {"not held, kept by the guard",
       [&](Observation& in) {
         not_held(in);
         in.keep_undesired = true;
       },
       "kept"},
      {"not held, gone",
       [&](Observation& in) {
         not_held(in);
         in.observed.reset();
       },
       "forget"},
  });
}

TEST(ComputeActionsTest, NodeMatch) {
  auto undecided = [](Observation& in) { in.wanted = Wanted::kSelectorUndecided; };
  RunTable({
      {"another node's: removed and released",
       [](Observation& in) { in.wanted = Wanted::kOtherNode; },
       "remove(stop 7s killing), forget, release default/web from api"},
      {"another node's, gone: released",
       [](Observation& in) {
         in.wanted = Wanted::kOtherNode;
         in.observed.reset();
       },
       "forget, release default/web from api"},
      {"undecided, running: left alone", undecided, "labels-unknown, requeue 500ms"},
      {"undecided, absent: nothing created",
       [&](Observation& in) {
         undecided(in);
         in.observed.reset();
       },
       "labels-unknown, requeue 500ms"},
      {"undecided, leftover record: left alone",
       [&](Observation& in) {
         undecided(in);
         in.observed = Container(ContainerState::kUnknown);
         in.observed->reason = "Deleting";
       },
       "labels-unknown, requeue 500ms"},
      {"undecided, exited: its restart policy",
       [&](Observation& in) {
         undecided(in);
         in.observed = Exited(1);
       },
       "exit-seen next 10s, prepare, pending 4, replace(delete), create r4"},
      {"undecided, exited, back-off passed: restarted",
       [&](Observation& in) {
         undecided(in);
         in.observed = Exited(1);
         Remember(in, kNow);
       },
       "prepare, pending 4, replace(delete), create r4"},
  });
}

TEST(ComputeActionsTest, Classify) {
  NodeContainer o = Web();
  const std::map<std::string, std::string> north = {{"zone", "north"}};
  EXPECT_EQ(Classify(std::nullopt, "n", north, true), Wanted::kNotHeld);
  EXPECT_EQ(Classify(o, "n", {}, true), Wanted::kRun);
  o.spec.node_selector = north;
  EXPECT_EQ(Classify(o, "n", north, true), Wanted::kRun);
  EXPECT_EQ(Classify(o, "n", {}, true), Wanted::kOtherNode);
  EXPECT_EQ(Classify(o, "n", {}, false), Wanted::kSelectorUndecided);
  EXPECT_EQ(Classify(o, "n", north, false), Wanted::kRun);
  o.spec.node_name = "n";
  EXPECT_EQ(Classify(o, "n", {}, false), Wanted::kSelectorUndecided);
  o.spec.node_name = "other";
  EXPECT_EQ(Classify(o, "n", north, false), Wanted::kOtherNode)
      << "by name: not a question of labels";
  EXPECT_EQ(Classify(o, "n", north, true), Wanted::kOtherNode);
  o.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  EXPECT_EQ(Classify(o, "n", north, true), Wanted::kBeingDeleted);
  EXPECT_TRUE(IsLeftoverRecord(Container(ContainerState::kUnknown)));
  ContainerStatus exiting = Container(ContainerState::kUnknown);
  exiting.reason = "Exiting";
  EXPECT_FALSE(IsLeftoverRecord(exiting));
  EXPECT_FALSE(IsLeftoverRecord(Container(ContainerState::kStopped)));
}

TEST(ComputeActionsTest, KillingEventNamesTheGracePeriod) {
  Observation in = Base();
  in.wanted = Wanted::kBeingDeleted;
  ContainerActions a = ComputeActions(in);
  ASSERT_TRUE(a.remove && a.remove->killing);
  EXPECT_EQ(*a.remove->killing, (EventRecord{EventType::kNormal, "Killing",
                                             "Stopping container web (grace period 7s)"}));
  EXPECT_EQ(a.remove->why, "delete container default.web: its object is being deleted");
}

TEST(DecideAfterStartTest, WhatTheRuntimeSaysAfterTheStart) {
  RestartBackoff::Options backoff;
  const RestartState none;
  EXPECT_EQ(
      Summary(DecideAfterStart(Web(), Container(ContainerState::kRunning), none, backoff, kNow)),
      "report Running");
  EXPECT_EQ(
      Summary(DecideAfterStart(Web(), Container(ContainerState::kCreated), none, backoff, kNow)),
      "requeue 1s");
  EXPECT_EQ(Summary(DecideAfterStart(Web(), Exited(3), none, backoff, kNow)),
            "exit-seen next 10s, prepare, pending 4, replace(delete), create r4");
  RestartState restarted;
  restarted.exit_delay = absl::Seconds(10);
  EXPECT_EQ(Summary(DecideAfterStart(Web(), Exited(3), restarted, backoff, kNow)),
            "exit-seen next 20s, event BackOff, report CrashLoopBackOff, requeue 10s");
  NodeContainer never = Web();
  never.spec.restart_policy = RestartPolicy::kNever;
  EXPECT_EQ(Summary(DecideAfterStart(never, Exited(0), none, backoff, kNow)), "report Succeeded");
}

std::string Summary(const ImageActions& a) {
  std::vector<std::string> p;
  if (a.forget_pull_failure) p.push_back("forget-pull");
  if (a.record_pull_failure) p.push_back("pull-failed +" + absl::FormatDuration(a.pull_delay));
  if (a.report) {
    p.push_back(absl::StrCat("report ", PhaseName(a.report->phase),
                             a.report->reason.empty() ? "" : "/" + a.report->reason));
  }
  for (const EventRecord& e : a.events)
    p.push_back(absl::StrCat("event ", e.reason, ": ", e.message));
  p.push_back(a.ready ? "ready"
                      : absl::StrCat("status ", absl::StatusCodeToString(a.status.code())));
  if (a.requeue_after != absl::ZeroDuration()) {
    p.push_back("requeue " + absl::FormatDuration(a.requeue_after));
  }
  return absl::StrJoin(p, ", ");
}

PullOutcome AuthFailed(absl::Status status) {
  PullOutcome o;
  o.kind = PullOutcome::Kind::kAuthFailed;
  o.status = std::move(status);
  return o;
}

PullOutcome Failed(absl::Status status, ImagePullPolicy policy = ImagePullPolicy::kIfNotPresent) {
  PullOutcome o;
  o.kind = PullOutcome::Kind::kFailed;
  o.status = std::move(status);
  o.policy = policy;
  return o;
}

PullOutcome Resolved(bool would_pull, bool pulled, absl::Duration took = absl::ZeroDuration()) {
  PullOutcome o;
  o.would_pull = would_pull;
  o.pulled = pulled;
  o.took = took;
  return o;
}

TEST(DecideAfterPullTest, PullOutcomes) {
  RestartBackoff::Options backoff;
  RestartState failed_before;
  failed_before.pull_delay = absl::Seconds(10);
  const std::optional<ContainerStatus> running = Container(ContainerState::kRunning);
  struct Case {
    std::string name;
    PullOutcome outcome;
    RestartState memory;
    std::optional<ContainerStatus> observed;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"auth failed",
       AuthFailed(absl::UnavailableError("no secret")),
       {},
       std::nullopt,
       "report Pending/ErrImagePull, event Failed: Error: no secret, status UNAVAILABLE"},
      {"cancelled by shutdown",
       Failed(absl::CancelledError("stop")),
       {},
       std::nullopt,
       "status CANCELLED"},
      {"invalid name",
       Failed(absl::InvalidArgumentError("bad ref")),
       {},
       std::nullopt,
       "report Pending/InvalidImageName, event InspectFailed: bad ref, status INVALID_ARGUMENT"},
      {"failed",
       Failed(absl::UnavailableError("down")),
       {},
       std::nullopt,
       "pull-failed +10s, report Pending/ErrImagePull, event Failed: Failed to pull image "
       "\"busybox\": down, status OK, requeue 10s"},
      {"failed again: the delay doubles", Failed(absl::UnavailableError("down")), failed_before,
       std::nullopt,
       "pull-failed +20s, report Pending/ErrImagePull, event Failed: Failed to pull image "
       "\"busybox\": down, status OK, requeue 20s"},
      {"failed while the old one runs",
       Failed(absl::NotFoundError("gone")),
       {},
       running,
       "pull-failed +10s, report Running/ErrImagePull, event Failed: Failed to pull image "
       "\"busybox\": gone, status OK, requeue 10s"},
      {"never pull, not present",
       Failed(absl::NotFoundError("absent"), ImagePullPolicy::kNever),
       {},
       std::nullopt,
       "pull-failed +10s, report Pending/ErrImageNeverPull, event ErrImageNeverPull: Container "
       "image \"busybox\" is not present with pull policy of Never, status OK, requeue 10s"},
      {"pulled",
       Resolved(true, true, absl::Microseconds(1234567)),
       {},
       std::nullopt,
       "forget-pull, event Pulled: Successfully pulled image \"busybox\" in 1.234s, ready"},
      {"present, not pulled",
       Resolved(false, false),
       {},
       std::nullopt,
       "forget-pull, event Pulled: Container image \"busybox\" already present on machine, ready"},
      {"would pull, found it current",
       Resolved(true, false),
       {},
       std::nullopt,
       "forget-pull, ready"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Summary(DecideAfterPull(Web(), c.observed, c.outcome, c.memory, backoff, kNow)),
              c.want)
        << c.name;
  }
  EXPECT_EQ(BeforePull(Web(), false), std::nullopt);
  EXPECT_EQ(BeforePull(Web(), true),
            (EventRecord{EventType::kNormal, "Pulling", "Pulling image \"busybox\""}));
}

TEST(DecideAfterPullTest, BuildFailureKeepsWhatRuns) {
  const absl::Status error = absl::InvalidArgumentError("no command");
  EXPECT_EQ(Summary(DecideAfterBuildFailure(Web(), std::nullopt, error)),
            "report Error, event Failed: Error: no command, status INVALID_ARGUMENT");
  EXPECT_EQ(Summary(DecideAfterBuildFailure(Web(), Container(ContainerState::kRunning), error)),
            "report Running, event Failed: Error: no command, status INVALID_ARGUMENT");
}

}  // namespace
}  // namespace berth::controller
