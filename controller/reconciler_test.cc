// The reconciler against a fake runtime (with error injection) and a fake
// clock: the decisions, not the containers.
#include "controller/reconciler.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/desired_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class FakeRuntime : public runtime::Runtime {
 public:
  absl::Status Create(const runtime::ContainerSpec& spec) override {
    calls.push_back("create " + spec.id);
    if (!create_error.ok()) return create_error;
    ContainerStatus c;
    c.id = spec.id;
    c.state = ContainerState::kCreated;
    c.pid = next_pid++;
    c.labels = spec.labels;
    c.annotations = spec.annotations;
    c.created_at = clock->Now() + absl::Nanoseconds(++creates);
    containers[spec.id] = c;
    return absl::OkStatus();
  }
  absl::Status Start(const std::string& id) override {
    calls.push_back("start " + id);
    if (!start_error.ok()) return start_error;
    containers[id].state = ContainerState::kRunning;
    containers[id].started_at = clock->Now();
    if (exit_on_start.has_value()) Exit(id, *exit_on_start, clock->Now());
    return absl::OkStatus();
  }
  absl::Status Stop(const std::string& id, absl::Duration timeout) override {
    calls.push_back(absl::StrCat("stop ", id, " ", absl::FormatDuration(timeout)));
    Exit(id, 143);
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id) override {
    calls.push_back("delete " + id);
    if (!delete_error.ok()) return delete_error;
    containers.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<ContainerStatus> State(const std::string& id) override {
    auto it = containers.find(id);
    if (it == containers.end()) return absl::NotFoundError(id);
    return it->second;
  }
  absl::StatusOr<std::vector<ContainerStatus>> List() override {
    std::vector<ContainerStatus> out;
    for (const auto& [id, c] : containers) out.push_back(c);
    return out;
  }
  void Exit(const std::string& id, int code, absl::Time at = absl::FromUnixSeconds(2000)) {
    ContainerStatus& c = containers[id];
    c.state = ContainerState::kStopped;
    c.exit_code = code;
    c.reason = code == 0 ? "Completed" : "Error";
    c.finished_at = at;
    c.pid = 0;
  }

  std::map<std::string, ContainerStatus> containers;
  std::vector<std::string> calls;
  absl::Status create_error;
  absl::Status start_error;
  absl::Status delete_error;
  // The program exits the moment it starts, with this code.
  std::optional<int> exit_on_start;
  int next_pid = 100;
  int creates = 0;
  const Clock* clock = nullptr;
};

class FakeImages : public image::ImageStore {
 public:
  absl::StatusOr<image::ResolvedImage> Resolve(const std::string& ref, ImagePullPolicy policy,
                                               const image::PullAuth&) const override {
    resolves.push_back(ref);
    if (auto it = errors.find(ref); it != errors.end()) return it->second;
    image::ResolvedImage i;
    i.reference = ref + ":latest";
    i.layers = {"/images/" + ref};
    i.cmd = {"sh"};
    i.pulled = WouldPull(ref, policy);
    return i;
  }
  bool Present(const std::string& ref) const override { return errors.count(ref) == 0; }
  bool WouldPull(const std::string& ref, ImagePullPolicy policy) const override {
    if (directory_images.count(ref) != 0) return false;
    return image::ImageStore::WouldPull(ref, policy);
  }
  std::map<std::string, absl::Status> errors;
  // Images that are directories: never pulled, whatever the policy.
  std::set<std::string> directory_images;
  mutable std::vector<std::string> resolves;
};

class RecordingSink : public StatusSink {
 public:
  void Report(const ContainerReport& r) override { reports[r.id] = r; }
  void Remove(const std::string& id) override { reports.erase(id); }
  std::map<std::string, ContainerReport> reports;
};

class RecordingEvents : public EventRecorder {
 public:
  void Record(const NodeContainer& object, EventType type, absl::string_view reason,
              absl::string_view message) override {
    events.push_back(
        absl::StrCat(type == EventType::kWarning ? "Warning " : "Normal ", reason, ": ", message));
  }
  std::vector<std::string> events;
};

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() : clock_(absl::FromUnixSeconds(2000)) {
    runtime_.clock = &clock_;
    options_.backoff.initial = absl::Seconds(10);
    options_.backoff.max = absl::Seconds(40);
  }

  Reconciler Make() {
    return Reconciler(
        runtime_,
        [this](const std::string& id) -> std::optional<NodeContainer> {
          auto it = desired_.find(id);
          if (it == desired_.end()) return std::nullopt;
          return it->second;
        },
        images_, sink_, clock_, options_);
  }

  NodeContainer& Want(const std::string& name) {
    NodeContainer o;
    o.metadata.name = name;
    o.spec.image = "busybox";
    o.spec.command = {"sleep", "1000"};
    o.spec.termination_grace_period_seconds = 7;
    return desired_[ContainerIdFor(o.metadata)] = o;
  }

  FakeRuntime runtime_;
  FakeImages images_;
  RecordingSink sink_;
  FakeClock clock_;
  ReconcilerOptions options_;
  std::map<std::string, NodeContainer> desired_;
};

TEST_F(ReconcilerTest, CreatesAndStartsWhatIsMissing) {
  Want("web");
  Reconciler r = Make();
  ReconcileResult res = r.Reconcile("default.web");
  EXPECT_TRUE(res.status.ok()) << res.status;
  EXPECT_THAT(runtime_.calls, ElementsAre("create default.web", "start default.web"));
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
  EXPECT_EQ(sink_.reports["default.web"].pid, 100);
  runtime_.calls.clear();
  EXPECT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty()) << "converged: nothing more to do";
}

TEST_F(ReconcilerTest, LabelChangeKeepsSpecChangeRecreatesWithOldGracePeriod) {
  Want("web");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  runtime_.calls.clear();
  desired_["default.web"].metadata.labels["tier"] = "front";
  desired_["default.web"].spec.termination_grace_period_seconds = 99;
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
  desired_["default.web"].spec.command = {"sleep", "2000"};
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.web 7s", "delete default.web",
                                          "create default.web", "start default.web"));
}

TEST_F(ReconcilerTest, ARequestedRestartIsOneRecreateAtTheNextReconcile) {
  Want("web");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  // A crash restart first: the requested one starts the count again.
  runtime_.Exit("default.web", 1, clock_.Now());
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  ASSERT_EQ(sink_.reports["default.web"].restart_count, 1);
  runtime_.calls.clear();
  r.RequestRestart("default.web");
  EXPECT_THAT(runtime_.calls, IsEmpty()) << "nothing happens outside a reconcile";
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.web 7s", "delete default.web",
                                          "create default.web", "start default.web"));
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
  EXPECT_EQ(sink_.reports["default.web"].restart_count, 0);
  EXPECT_FALSE(sink_.reports["default.web"].last_exit_code.has_value());
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty()) << "the request was consumed";
  // A failed create after the old container went: the retry creates it.
  r.RequestRestart("default.web");
  runtime_.create_error = absl::InternalError("no");
  EXPECT_FALSE(r.Reconcile("default.web").status.ok());
  runtime_.create_error = absl::OkStatus();
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("create default.web", "start default.web"));
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
}

TEST_F(ReconcilerTest, AProbeKillStopsTheContainerThenItsExitIsRestartedAndCounted) {
  Want("web");
  RecordingEvents events;
  options_.events = &events;
  bool ready = false;
  std::vector<std::string> health;
  options_.observe_health = [&](const std::string& id, const NodeContainer& object,
                                const ContainerStatus* running) {
    health.push_back(absl::StrCat(id, running != nullptr ? " running" : " not running"));
    return running != nullptr && ready;
  };
  std::vector<std::string> forgotten;
  options_.forget_health = [&](const std::string& id) { forgotten.push_back(id); };
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_EQ(sink_.reports["default.web"].ready, false);
  ready = true;
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_EQ(sink_.reports["default.web"].ready, true);
  const absl::Time first = runtime_.containers["default.web"].created_at;
  // A kill about another instance of the id is dropped.
  r.RequestKill("default.web", KillRequest{0, first - absl::Seconds(1), "old", std::nullopt});
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
  // The probe's grace period replaces the container's (7s).
  r.RequestKill("default.web",
                KillRequest{0, first, "Container web failed liveness probe, will be restarted",
                            absl::Seconds(3)});
  EXPECT_THAT(runtime_.calls, IsEmpty()) << "nothing happens outside a reconcile";
  health.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  // Stopped and kept; the next look restarts it as any first exit.
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.web 3s", "delete default.web",
                                          "create default.web", "start default.web"));
  EXPECT_THAT(events.events,
              ::testing::Contains("Normal Killing: Container web failed liveness probe, will be "
                                  "restarted"));
  EXPECT_EQ(sink_.reports["default.web"].restart_count, 1);
  EXPECT_EQ(sink_.reports["default.web"].last_exit_code, 143);
  EXPECT_EQ(health.back(), "default.web running");
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty()) << "the kill was consumed";
  desired_.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(forgotten, ElementsAre("default.web"));
}

TEST_F(ReconcilerTest, UndesiredIsStoppedWithItsGracePeriodAndDeleted) {
  Want("web");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  desired_.clear();
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.web 7s", "delete default.web"));
  EXPECT_EQ(sink_.reports.count("default.web"), 0u);
}

TEST_F(ReconcilerTest, KeepUndesiredGuardLeavesItRunning) {
  Want("web");
  options_.keep_undesired = [](const ContainerStatus&) { return true; };
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  desired_.clear();
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
}

TEST_F(ReconcilerTest, AlwaysRestartsWithCrashLoopBackOff) {
  Want("crash");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.crash").status.ok());
  // kubelet: the first exit is restarted at once.
  runtime_.Exit("default.crash", 1, clock_.Now());
  runtime_.calls.clear();
  ReconcileResult first = r.Reconcile("default.crash");
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(first.requeue_after, absl::ZeroDuration());
  EXPECT_THAT(runtime_.calls,
              ElementsAre("delete default.crash", "create default.crash", "start default.crash"));
  ContainerReport rep = sink_.reports["default.crash"];
  EXPECT_EQ(rep.phase, "Running");
  EXPECT_EQ(rep.restart_count, 1);
  EXPECT_EQ(rep.last_exit_code, 1);

  // The second exit waits the initial delay from its finish.
  runtime_.Exit("default.crash", 1, clock_.Now());
  runtime_.calls.clear();
  ReconcileResult waiting = r.Reconcile("default.crash");
  EXPECT_TRUE(waiting.status.ok());
  EXPECT_EQ(waiting.requeue_after, absl::Seconds(10));
  EXPECT_EQ(sink_.reports["default.crash"].phase, "CrashLoopBackOff");
  EXPECT_THAT(runtime_.calls, IsEmpty());
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(r.Reconcile("default.crash").requeue_after, absl::Seconds(6)) << "the same exit";

  clock_.Advance(absl::Seconds(6));
  ASSERT_TRUE(r.Reconcile("default.crash").status.ok());
  EXPECT_THAT(runtime_.calls,
              ElementsAre("delete default.crash", "create default.crash", "start default.crash"));
  EXPECT_EQ(sink_.reports["default.crash"].phase, "Running");
  EXPECT_EQ(sink_.reports["default.crash"].restart_count, 2);

  // The next exits, soon after: the delay doubles, then is capped.
  for (absl::Duration want : {absl::Seconds(20), absl::Seconds(40), absl::Seconds(40)}) {
    runtime_.Exit("default.crash", 2, clock_.Now());
    EXPECT_EQ(r.Reconcile("default.crash").requeue_after, want);
    clock_.Advance(want);
    ASSERT_TRUE(r.Reconcile("default.crash").status.ok());
  }
  EXPECT_EQ(sink_.reports["default.crash"].restart_count, 5);
}

TEST_F(ReconcilerTest, NeverAndOnFailureEndInTerminalPhases) {
  Want("never").spec.restart_policy = RestartPolicy::kNever;
  Want("job").spec.restart_policy = RestartPolicy::kOnFailure;
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.never").status.ok());
  ASSERT_TRUE(r.Reconcile("default.job").status.ok());
  runtime_.Exit("default.never", 137);
  runtime_.Exit("default.job", 0);
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.never").status.ok());
  ASSERT_TRUE(r.Reconcile("default.job").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
  EXPECT_EQ(sink_.reports["default.never"].phase, "Failed");
  EXPECT_EQ(sink_.reports["default.never"].exit_code, 137);
  EXPECT_EQ(sink_.reports["default.job"].phase, "Succeeded");
}

TEST_F(ReconcilerTest, FailuresAreReportedAndLeaveNoHalfStartedContainer) {
  Want("web");
  Reconciler r = Make();
  runtime_.create_error = absl::UnavailableError("create container default.web: runc_create: boom");
  ReconcileResult res = r.Reconcile("default.web");
  EXPECT_TRUE(absl::IsUnavailable(res.status));
  EXPECT_EQ(sink_.reports["default.web"].phase, "Error");
  EXPECT_EQ(sink_.reports["default.web"].last_error,
            "create container default.web: runc_create: boom");

  runtime_.create_error = absl::OkStatus();
  runtime_.start_error = absl::InternalError("start container default.web: no");
  runtime_.calls.clear();
  EXPECT_FALSE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls,
              ElementsAre("create default.web", "start default.web", "delete default.web"));
  EXPECT_THAT(runtime_.containers, IsEmpty());
}

TEST_F(ReconcilerTest, LostExitTimesStillBackOffAndGrow) {
  Want("lost");
  Reconciler r = Make();
  // The first restarted at once (kubelet), then from now as lost exits count.
  for (absl::Duration want :
       {absl::ZeroDuration(), absl::Seconds(10), absl::Seconds(20), absl::Seconds(40)}) {
    ASSERT_TRUE(r.Reconcile("default.lost").status.ok());
    ContainerStatus& c = runtime_.containers["default.lost"];
    c.state = ContainerState::kStopped;
    c.reason = "ExitCodeLost";
    c.exit_code.reset();
    c.finished_at = absl::InfinitePast();
    ReconcileResult res = r.Reconcile("default.lost");
    EXPECT_EQ(res.requeue_after, want);
    EXPECT_EQ(sink_.reports["default.lost"].phase,
              want == absl::ZeroDuration() ? "Running" : "CrashLoopBackOff");
    clock_.Advance(want);
  }
}

TEST_F(ReconcilerTest, FailedCreateAfterARestartKeepsTheCount) {
  Want("flaky");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.flaky").status.ok());
  runtime_.Exit("default.flaky", 9, clock_.Now());
  runtime_.create_error = absl::UnavailableError("busy");  // the restart, at once
  EXPECT_FALSE(r.Reconcile("default.flaky").status.ok());
  EXPECT_THAT(runtime_.containers, IsEmpty()) << "the old one was deleted";
  runtime_.create_error = absl::OkStatus();
  ASSERT_TRUE(r.Reconcile("default.flaky").status.ok());
  EXPECT_EQ(sink_.reports["default.flaky"].restart_count, 1);
  EXPECT_EQ(sink_.reports["default.flaky"].last_exit_code, 9);
}

// An exited container is deleted before the next one is created: a berthd
// killed in between, or whose create fails until it is restarted (a full
// disk), must not lose the restart count and the last exit code (the next
// berthd finds no container to read them from).
TEST_F(ReconcilerTest, APendingRestartSurvivesARestartOfBerthd) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    absl::StrCat("berth-pending-restarts-", getpid());
  std::filesystem::remove_all(dir);
  options_.pending_restarts_dir = dir.string();
  Want("flaky");
  {
    Reconciler r = Make();
    ASSERT_TRUE(r.Reconcile("default.flaky").status.ok());
    runtime_.Exit("default.flaky", 9, clock_.Now());
    runtime_.create_error = absl::UnavailableError("no space left on device");
    EXPECT_FALSE(r.Reconcile("default.flaky").status.ok());
    EXPECT_THAT(runtime_.containers, IsEmpty()) << "the old one was deleted";
  }
  runtime_.create_error = absl::OkStatus();
  sink_.reports.clear();
  {
    Reconciler restarted = Make();  // a new berthd: nothing in memory
    ASSERT_TRUE(restarted.Reconcile("default.flaky").status.ok());
  }
  EXPECT_EQ(sink_.reports["default.flaky"].restart_count, 1);
  EXPECT_EQ(sink_.reports["default.flaky"].last_exit_code, 9);
  EXPECT_EQ(sink_.reports["default.flaky"].last_exit_reason, "Error");
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "started: nothing is pending";
  // Nor does a record outlive its container: removed with the object.
  runtime_.Exit("default.flaky", 3, clock_.Now());
  {
    Reconciler r = Make();
    runtime_.create_error = absl::UnavailableError("busy");
    EXPECT_FALSE(r.Reconcile("default.flaky").status.ok());
    EXPECT_FALSE(std::filesystem::is_empty(dir));
    desired_.clear();
    ASSERT_TRUE(r.Reconcile("default.flaky").status.ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST_F(ReconcilerTest, LeftoversOfFailedCreatesAndDeletesAreRemoved) {
  Want("web");
  Reconciler r = Make();
  ContainerStatus half;
  half.id = "default.web";
  half.state = ContainerState::kUnknown;
  half.reason = "Deleting";
  runtime_.containers["default.web"] = half;
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls,
              ElementsAre("delete default.web", "create default.web", "start default.web"));
  // An exit still being recorded is waited for, not removed.
  runtime_.calls.clear();
  runtime_.containers["default.web"].state = ContainerState::kUnknown;
  runtime_.containers["default.web"].reason = "Exiting";
  ReconcileResult res = r.Reconcile("default.web");
  EXPECT_GT(res.requeue_after, absl::ZeroDuration());
  EXPECT_THAT(runtime_.calls, IsEmpty());
}

TEST_F(ReconcilerTest, ContainersForOtherNodesAreNotRun) {
  Want("elsewhere").spec.node_name = "other-node";
  options_.node_name = "this-node";
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.elsewhere").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
}

TEST_F(ReconcilerTest, ClaimsBeforeCreatingAndReleasesAfterDeleting) {
  std::vector<std::string> claims;
  options_.claim = [&](const NodeContainer& o) {
    claims.push_back("claim " + o.metadata.name);
    return absl::OkStatus();
  };
  options_.release = [&](const NodeContainer& o) {
    claims.push_back("release " + o.metadata.name);
    return absl::OkStatus();
  };
  RecordingEvents events;
  options_.events = &events;
  Want("web").spec.image_pull_policy = ImagePullPolicy::kIfNotPresent;
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(claims, ElementsAre("claim web"));
  EXPECT_THAT(events.events,
              ElementsAre("Normal Pulled: Container image \"busybox\" already present on machine",
                          "Normal Created: Created container web",
                          "Normal Started: Started container web"));

  // Being deleted: even a guard that keeps undesired containers does not
  // keep it, and the object is released only after its container is gone.
  options_.keep_undesired = [](const ContainerStatus&) { return true; };
  Reconciler r2 = Make();
  desired_["default.web"].metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  runtime_.calls.clear();
  claims.clear();
  ASSERT_TRUE(r2.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.web 7s", "delete default.web"));
  EXPECT_THAT(claims, ElementsAre("release web"));
  EXPECT_EQ(sink_.reports.count("default.web"), 0u);
  EXPECT_THAT(events.events.back(),
              ::testing::StartsWith("Normal Killing: Stopping container web"));
  // Again (the finalizer removal failed, say): nothing to stop, released again.
  runtime_.calls.clear();
  ASSERT_TRUE(r2.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
  EXPECT_THAT(claims, ElementsAre("release web", "release web"));
}

TEST_F(ReconcilerTest, FailedClaimCreatesNothingAndFailedReleaseIsRetried) {
  options_.claim = [](const NodeContainer&) { return absl::UnavailableError("api down"); };
  options_.release = [](const NodeContainer&) { return absl::UnavailableError("api down"); };
  Want("web");
  Reconciler r = Make();
  ReconcileResult res = r.Reconcile("default.web");
  EXPECT_TRUE(absl::IsUnavailable(res.status)) << res.status;
  EXPECT_THAT(runtime_.calls, IsEmpty());
  desired_["default.web"].metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  EXPECT_TRUE(absl::IsUnavailable(r.Reconcile("default.web").status));
}

TEST_F(ReconcilerTest, ObjectMovedToAnotherNodeIsRemovedAndReleased) {
  std::vector<std::string> released;
  options_.release = [&](const NodeContainer& o) {
    released.push_back(o.metadata.name);
    return absl::OkStatus();
  };
  options_.node_name = "this-node";
  options_.keep_undesired = [](const ContainerStatus&) { return true; };
  Want("web").spec.node_name = "this-node";
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  desired_["default.web"].spec.node_name = "other-node";
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.web 7s", "delete default.web"));
  EXPECT_THAT(released, ElementsAre("web"));
}

TEST_F(ReconcilerTest, NodeLabelsAreAskedAtEachReconcile) {
  std::map<std::string, std::string> labels = {{"zone", "north"}};
  options_.current_node_labels = [&] { return labels; };
  Want("south").spec.node_selector = {{"zone", "south"}};
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.south").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
  labels["zone"] = "south";
  ASSERT_TRUE(r.Reconcile("default.south").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("create default.south", "start default.south"));
}

TEST_F(ReconcilerTest, NodeSelectorIsNotDecidedBeforeTheNodesLabelsAreKnown) {
  // A restart of berthd: the container runs, the object is listed, the
  // Node (with its labels) not yet.
  std::vector<std::string> released;
  options_.release = [&](const NodeContainer& o) {
    released.push_back(o.metadata.name);
    return absl::OkStatus();
  };
  options_.node_name = "this-node";
  std::map<std::string, std::string> labels = {{"zone", "north"}};
  bool known = true;
  options_.current_node_labels = [&] { return labels; };
  options_.node_labels_known = [&] { return known; };
  Want("sel").spec.node_selector = {{"zone", "north"}};
  Want("named").spec.node_name = "this-node";
  desired_["default.named"].spec.node_selector = {{"zone", "north"}};
  Want("elsewhere").spec.node_name = "other-node";
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.sel").status.ok());
  ASSERT_TRUE(r.Reconcile("default.named").status.ok());
  runtime_.containers["default.elsewhere"] = runtime_.containers["default.sel"];
  runtime_.containers["default.elsewhere"].id = "default.elsewhere";
  runtime_.calls.clear();

  labels.clear();
  known = false;
  for (const char* id : {"default.sel", "default.named"}) {
    ReconcileResult res = r.Reconcile(id);
    EXPECT_TRUE(res.status.ok()) << res.status;
    EXPECT_GT(res.requeue_after, absl::ZeroDuration()) << id << ": not looked at again";
  }
  EXPECT_THAT(runtime_.calls, IsEmpty());
  EXPECT_THAT(released, IsEmpty());
  // Another node's by name: not a question of labels.
  ASSERT_TRUE(r.Reconcile("default.elsewhere").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.elsewhere 7s", "delete default.elsewhere"));
  EXPECT_THAT(released, ElementsAre("elsewhere"));

  // Known, and they match: the same containers go on.
  runtime_.calls.clear();
  labels = {{"zone", "north"}};
  known = true;
  ASSERT_TRUE(r.Reconcile("default.sel").status.ok());
  ASSERT_TRUE(r.Reconcile("default.named").status.ok());
  EXPECT_THAT(runtime_.calls, IsEmpty());
  // Known, and they do not: removed and released.
  labels = {{"zone", "south"}};
  ASSERT_TRUE(r.Reconcile("default.sel").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("stop default.sel 7s", "delete default.sel"));
  EXPECT_THAT(released, ElementsAre("elsewhere", "sel"));
}

TEST_F(ReconcilerTest, RunningContainersAreClaimedAgain) {
  // The finalizer removed by someone else while the container runs: the
  // next look at the object claims it again.
  std::vector<std::string> claims;
  absl::Status claim_error;
  options_.claim = [&](const NodeContainer& o) {
    claims.push_back(o.metadata.name);
    return claim_error;
  };
  Want("web");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  ASSERT_THAT(claims, ElementsAre("web"));
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(claims, ElementsAre("web", "web"));
  // A failed claim is retried; the container is left alone.
  claim_error = absl::UnavailableError("api down");
  EXPECT_TRUE(absl::IsUnavailable(r.Reconcile("default.web").status));
  EXPECT_THAT(runtime_.calls, IsEmpty());
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
}

TEST_F(ReconcilerTest, FailedPullsBackOffAndRecover) {
  RecordingEvents events;
  options_.events = &events;
  images_.errors["busybox"] = absl::UnavailableError("pull image busybox: registry down");
  Want("web");
  Reconciler r = Make();
  ReconcileResult first = r.Reconcile("default.web");
  EXPECT_TRUE(first.status.ok()) << "a failed pull is waited for, not retried at once";
  EXPECT_EQ(first.requeue_after, absl::Seconds(10));
  EXPECT_EQ(sink_.reports["default.web"].phase, "Pending");
  EXPECT_EQ(sink_.reports["default.web"].reason, "ErrImagePull");
  EXPECT_THAT(sink_.reports["default.web"].last_error, ::testing::HasSubstr("registry down"));
  EXPECT_THAT(events.events.back(), ::testing::StartsWith("Warning Failed: Failed to pull image"));

  clock_.Advance(absl::Seconds(4));
  images_.resolves.clear();
  ReconcileResult waiting = r.Reconcile("default.web");
  EXPECT_EQ(waiting.requeue_after, absl::Seconds(6));
  EXPECT_EQ(sink_.reports["default.web"].reason, "ImagePullBackOff");
  EXPECT_THAT(images_.resolves, IsEmpty()) << "pulled again during the back-off";

  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(r.Reconcile("default.web").requeue_after, absl::Seconds(20)) << "the delay doubles";
  images_.errors.clear();
  clock_.Advance(absl::Seconds(20));
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(runtime_.calls, ElementsAre("create default.web", "start default.web"));
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
  EXPECT_EQ(sink_.reports["default.web"].reason, "");
}

TEST_F(ReconcilerTest, PullCancelledByShutdownReportsNothingAndLeavesNoBackOff) {
  RecordingEvents events;
  options_.events = &events;
  images_.errors["busybox"] = absl::CancelledError("pull image busybox: cancelled");
  Want("web");
  Reconciler r = Make();
  ReconcileResult stopped = r.Reconcile("default.web");
  EXPECT_TRUE(absl::IsCancelled(stopped.status)) << stopped.status;
  EXPECT_EQ(sink_.reports.count("default.web"), 0u) << sink_.reports["default.web"].reason;
  EXPECT_THAT(events.events, ElementsAre(::testing::StartsWith("Normal Pulling")));
  EXPECT_THAT(runtime_.calls, IsEmpty());

  // The next start pulls at once: a cancelled pull is not a failed one.
  images_.errors.clear();
  images_.resolves.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(images_.resolves, ElementsAre("busybox"));
  EXPECT_THAT(runtime_.calls, ElementsAre("create default.web", "start default.web"));
}

TEST_F(ReconcilerTest, NewImageIsPulledBeforeTheOldContainerStops) {
  Want("web");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  runtime_.calls.clear();
  desired_["default.web"].spec.image = "busybox:2";
  images_.errors["busybox:2"] = absl::NotFoundError("pull image busybox:2: manifest unknown");
  ReconcileResult res = r.Reconcile("default.web");
  EXPECT_TRUE(res.status.ok());
  EXPECT_GT(res.requeue_after, absl::ZeroDuration());
  EXPECT_THAT(runtime_.calls, IsEmpty()) << "the running container was stopped for nothing";
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
  EXPECT_EQ(sink_.reports["default.web"].reason, "ErrImagePull");
}

TEST_F(ReconcilerTest, NeverPullPolicyAndBadReferences) {
  images_.errors["busybox"] = absl::NotFoundError("image busybox is not present");
  Want("web").spec.image_pull_policy = ImagePullPolicy::kNever;
  Reconciler r = Make();
  r.Reconcile("default.web");
  EXPECT_EQ(sink_.reports["default.web"].reason, "ErrImageNeverPull");
  images_.errors["busybox"] = absl::InvalidArgumentError("bad reference");
  clock_.Advance(absl::Minutes(10));
  ReconcileResult res = r.Reconcile("default.web");
  EXPECT_TRUE(absl::IsInvalidArgument(res.status));
  EXPECT_EQ(sink_.reports["default.web"].reason, "InvalidImageName");
  EXPECT_THAT(runtime_.calls, IsEmpty());
}

TEST_F(ReconcilerTest, ObjectNoSourceHoldsIsReleasedByTheNamesOnItsContainer) {
  std::vector<std::string> released;
  options_.release = [&](const NodeContainer& o) {
    released.push_back(absl::StrCat(o.origin, " ", o.metadata.namespace_, "/", o.metadata.name,
                                    " rv=", o.metadata.resource_version));
    return absl::OkStatus();
  };
  Want("web").origin = "api";
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  desired_.clear();  // moved to another node: out of this node's view
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(released, ElementsAre("api default/web rv="));
  // Kept by the guard: not released.
  Want("kept").origin = "api";
  ASSERT_TRUE(r.Reconcile("default.kept").status.ok());
  desired_.clear();
  options_.keep_undesired = [](const ContainerStatus&) { return true; };
  Reconciler guarded = Make();
  ASSERT_TRUE(guarded.Reconcile("default.kept").status.ok());
  EXPECT_THAT(released, ElementsAre("api default/web rv="));
}

TEST_F(ReconcilerTest, CrashLoopBackOffIsOneEventPerExit) {
  RecordingEvents events;
  options_.events = &events;
  Want("crash");
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.crash").status.ok());
  runtime_.Exit("default.crash", 1, clock_.Now());
  events.events.clear();
  r.Reconcile("default.crash");  // the first exit: restarted at once, no BackOff
  EXPECT_THAT(events.events, ::testing::Not(::testing::Contains(::testing::HasSubstr("BackOff"))));
  EXPECT_THAT(events.events, ::testing::Contains("Normal Started: Started container crash"));
  runtime_.Exit("default.crash", 1, clock_.Now());
  events.events.clear();
  r.Reconcile("default.crash");
  r.Reconcile("default.crash");
  EXPECT_THAT(events.events,
              ElementsAre("Warning BackOff: Back-off restarting failed container crash"));
}

TEST_F(ReconcilerTest, AProgramThatExitsAtOnceIsNeverReportedRunning) {
  // What the runtime says after the start counts: an exit that came first
  // goes through the restart policy and its back-off at once: the first
  // exit is restarted at once, the second backs off.
  Want("crash");
  runtime_.exit_on_start = 3;
  Reconciler r = Make();
  ReconcileResult first = r.Reconcile("default.crash");
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(sink_.reports["default.crash"].phase, "CrashLoopBackOff");
  EXPECT_EQ(sink_.reports["default.crash"].exit_code, 3);
  EXPECT_EQ(sink_.reports["default.crash"].restart_count, 1);
  EXPECT_EQ(first.requeue_after, absl::Seconds(10));
  for (int restart = 2; restart <= 4; ++restart) {
    clock_.Advance(first.requeue_after);
    runtime_.calls.clear();
    ReconcileResult next = r.Reconcile("default.crash");
    ASSERT_TRUE(next.status.ok()) << next.status;
    EXPECT_THAT(runtime_.calls,
                ElementsAre("delete default.crash", "create default.crash", "start default.crash"));
    EXPECT_EQ(sink_.reports["default.crash"].phase, "CrashLoopBackOff") << restart;
    EXPECT_EQ(sink_.reports["default.crash"].restart_count, restart);
    EXPECT_EQ(next.requeue_after,
              std::min(absl::Seconds(10) * (1 << (restart - 1)), absl::Seconds(40)))
        << "restart " << restart;
    first = next;
  }
}

TEST_F(ReconcilerTest, AContainerCreatedButNotStartedIsReportedAsItIsAfterItsStart) {
  Want("crash");
  Reconciler r = Make();
  runtime::ContainerSpec spec;
  spec.id = "default.crash";
  ASSERT_TRUE(runtime_.Create(spec).ok());
  runtime_.containers["default.crash"].annotations[kSpecHashAnnotation] =
      DesiredSpecHash(desired_["default.crash"]);
  runtime_.exit_on_start = 1;
  ASSERT_TRUE(r.Reconcile("default.crash").status.ok());
  EXPECT_EQ(sink_.reports["default.crash"].phase, "CrashLoopBackOff");
}

TEST_F(ReconcilerTest, ADirectoryImageIsPresentNeverPulling) {
  // kubelet: no Pulling for an image it does not pull, and Pulled says it
  // is already present on the machine.
  RecordingEvents events;
  options_.events = &events;
  images_.directory_images.insert("busybox");
  Want("web").spec.image_pull_policy = ImagePullPolicy::kAlways;
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(events.events,
              ElementsAre("Normal Pulled: Container image \"busybox\" already present on machine",
                          "Normal Created: Created container web",
                          "Normal Started: Started container web"));
}

TEST_F(ReconcilerTest, PulledImagesSayPulledAndPresentOnesSaySo) {
  RecordingEvents events;
  options_.events = &events;
  Want("always").spec.image_pull_policy = ImagePullPolicy::kAlways;
  Want("present").spec.image_pull_policy = ImagePullPolicy::kIfNotPresent;
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.always").status.ok());
  ASSERT_GE(events.events.size(), 2u);
  EXPECT_THAT(events.events[0], ::testing::StartsWith("Normal Pulling: Pulling image"));
  EXPECT_THAT(events.events[1], ::testing::StartsWith("Normal Pulled: Successfully pulled image"));
  events.events.clear();
  ASSERT_TRUE(r.Reconcile("default.present").status.ok());
  ASSERT_GE(events.events.size(), 1u);
  EXPECT_EQ(events.events[0],
            "Normal Pulled: Container image \"busybox\" already present on machine");
}

TEST_F(ReconcilerTest, AnExitWhileTheNodesLabelsAreUnknownGoesThroughTheRestartPolicy) {
  // The Node may never be listed (no permission, no API): a container that
  // was meant for this node and exits is still restarted with its back-off.
  options_.node_name = "this-node";
  std::map<std::string, std::string> labels = {{"zone", "north"}};
  bool known = true;
  options_.current_node_labels = [&] { return labels; };
  options_.node_labels_known = [&] { return known; };
  Want("sel").spec.node_selector = {{"zone", "north"}};
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.sel").status.ok());
  labels.clear();
  known = false;
  runtime_.Exit("default.sel", 1, clock_.Now());
  runtime_.calls.clear();
  ASSERT_TRUE(r.Reconcile("default.sel").status.ok());  // the first exit: at once
  EXPECT_THAT(runtime_.calls,
              ElementsAre("delete default.sel", "create default.sel", "start default.sel"));
  runtime_.Exit("default.sel", 1, clock_.Now());
  runtime_.calls.clear();
  ReconcileResult waiting = r.Reconcile("default.sel");
  ASSERT_TRUE(waiting.status.ok()) << waiting.status;
  EXPECT_EQ(sink_.reports["default.sel"].phase, "CrashLoopBackOff");
  EXPECT_EQ(waiting.requeue_after, absl::Seconds(10));
  clock_.Advance(waiting.requeue_after);
  ASSERT_TRUE(r.Reconcile("default.sel").status.ok());
  EXPECT_THAT(runtime_.calls,
              ElementsAre("delete default.sel", "create default.sel", "start default.sel"));
  // Nothing new is created while they are unknown.
  Want("other").spec.node_selector = {{"zone", "south"}};
  runtime_.calls.clear();
  EXPECT_GT(r.Reconcile("default.other").requeue_after, absl::ZeroDuration());
  EXPECT_THAT(runtime_.calls, IsEmpty());
}

}  // namespace
}  // namespace berth::controller
