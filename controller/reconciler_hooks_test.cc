// The lifecycle hooks as the reconciler runs them, against a fake runtime,
// a fake ActionRunner and a fake clock: ordering (postStart after the
// start, preStop before the stop signal), the grace period's arithmetic,
// FailedPostStartHook stopping the container, and no hook run twice for a
// container by a reconciler started again on the same state.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/reconciler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Every call, runtime and hooks alike, in one list.
using Calls = std::vector<std::string>;

class FakeRuntime : public runtime::Runtime {
 public:
  FakeRuntime(Calls& calls, FakeClock& clock) : calls_(calls), clock_(clock) {}
  absl::Status Create(const runtime::ContainerSpec& spec) override {
    calls_.push_back("create " + spec.id);
    ContainerStatus c;
    c.id = spec.id;
    c.state = ContainerState::kCreated;
    c.annotations = spec.annotations;
    c.created_at = clock_.Now() + absl::Nanoseconds(++creates_);
    c.ip = "10.88.0.5";
    containers[spec.id] = c;
    return absl::OkStatus();
  }
  absl::Status Start(const std::string& id) override {
    calls_.push_back("start " + id);
    containers[id].state = ContainerState::kRunning;
    containers[id].started_at = clock_.Now();
    return absl::OkStatus();
  }
  absl::Status Stop(const std::string& id, absl::Duration timeout) override {
    calls_.push_back(absl::StrCat("stop ", id, " ", absl::FormatDuration(timeout)));
    ContainerStatus& c = containers[id];
    if (c.state == ContainerState::kRunning) {
      c.state = ContainerState::kStopped;
      c.exit_code = 143;
      c.reason = "Error";
      c.finished_at = clock_.Now();
    }
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id) override {
    calls_.push_back("delete " + id);
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
  std::map<std::string, ContainerStatus> containers;

 private:
  Calls& calls_;
  FakeClock& clock_;
  int creates_ = 0;
};

class FakeImages : public image::ImageStore {
 public:
  absl::StatusOr<image::ResolvedImage> Resolve(const std::string& ref, ImagePullPolicy,
                                               const image::PullAuth&) const override {
    image::ResolvedImage i;
    i.reference = ref;
    i.layers = {"/images/" + ref};
    return i;
  }
  bool Present(const std::string&) const override { return true; }
  bool WouldPull(const std::string&, ImagePullPolicy) const override { return false; }
};

class NullSink : public StatusSink {
 public:
  void Report(const ContainerReport& r) override { reports[r.id] = r; }
  void Remove(const std::string& id) override { reports.erase(id); }
  std::map<std::string, ContainerReport> reports;
};

class RecordingEvents : public EventRecorder {
 public:
  void Record(const NodeContainer&, EventType type, absl::string_view reason,
              absl::string_view message) override {
    events.push_back(
        absl::StrCat(type == EventType::kWarning ? "Warning " : "Normal ", reason, ": ", message));
  }
  std::vector<std::string> events;
};

// Runs nothing: records the call, takes `takes` of the fake clock and
// answers the next of `results` (success once they are used up).
class FakeActions : public ActionRunner {
 public:
  FakeActions(Calls& calls, FakeClock& clock) : calls_(calls), clock_(clock) {}
  ActionResult Run(const Handler& handler, const ActionTarget& target,
                   absl::Duration timeout) override {
    std::string what = handler.exec.has_value() ? absl::StrJoin(handler.exec->command, " ")
                       : handler.sleep.has_value()
                           ? absl::StrCat("sleep ", handler.sleep->seconds)
                           : absl::StrCat("http :", handler.http_get->port.number);
    calls_.push_back(absl::StrCat("hook ", what, " in ", target.container_id, " within ",
                                  absl::FormatDuration(timeout)));
    targets.push_back(target);
    clock_.Advance(takes);
    if (results.empty()) return {true, ""};
    ActionResult r = results.front();
    results.erase(results.begin());
    return r;
  }
  absl::Duration takes = absl::ZeroDuration();
  std::vector<ActionResult> results;
  std::vector<ActionTarget> targets;

 private:
  Calls& calls_;
  FakeClock& clock_;
};

class ReconcilerHooksTest : public ::testing::Test {
 protected:
  ReconcilerHooksTest()
      : clock_(absl::FromUnixSeconds(2000)), runtime_(calls_, clock_), actions_(calls_, clock_) {
    records_dir_ = std::filesystem::temp_directory_path() /
                   absl::StrCat("reconciler_hooks_test.", getpid(), ".", ++instances_);
    options_.backoff.initial = absl::Seconds(10);
    options_.backoff.max = absl::Seconds(40);
    options_.events = &events_;
    options_.actions = &actions_;
    options_.hook_records_dir = records_dir_;
  }
  ~ReconcilerHooksTest() override { std::filesystem::remove_all(records_dir_); }

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

  // "web", grace period 7s, with an exec preStop and postStart.
  NodeContainer& Want() {
    NodeContainer o;
    o.metadata.name = "web";
    o.spec.image = "busybox";
    o.spec.command = {"httpd", "-f"};
    o.spec.termination_grace_period_seconds = 7;
    o.spec.lifecycle.pre_stop.emplace().exec.emplace().command = {"drain"};
    o.spec.lifecycle.post_start.emplace().exec.emplace().command = {"warm"};
    ContainerPort http;
    http.name = "http";
    http.container_port = 8080;
    o.spec.ports = {http};
    return desired_["default.web"] = o;
  }

  static inline int instances_ = 0;
  Calls calls_;
  FakeClock clock_;
  FakeRuntime runtime_;
  FakeActions actions_;
  FakeImages images_;
  NullSink sink_;
  RecordingEvents events_;
  std::string records_dir_;
  ReconcilerOptions options_;
  std::map<std::string, NodeContainer> desired_;
};

TEST_F(ReconcilerHooksTest, PostStartRunsRightAfterTheStartInTheContainer) {
  Want();
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("create default.web", "start default.web",
                                  "hook warm in default.web within 2m"));
  ASSERT_EQ(actions_.targets.size(), 1u);
  EXPECT_EQ(actions_.targets[0].ip, "10.88.0.5");
  ASSERT_EQ(actions_.targets[0].ports.size(), 1u);
  EXPECT_EQ(actions_.targets[0].ports[0].name, "http");
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
  calls_.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, IsEmpty()) << "a running container's postStart is not run again";
}

TEST_F(ReconcilerHooksTest, PreStopRunsBeforeTheStopSignalAndTakesFromTheGracePeriod) {
  Want();
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  calls_.clear();
  actions_.takes = absl::Seconds(3);
  desired_["default.web"].spec.command = {"httpd", "-f", "-v"};  // a spec change
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("hook drain in default.web within 7s", "stop default.web 4s",
                                  "delete default.web", "create default.web", "start default.web",
                                  "hook warm in default.web within 2m"));
}

TEST_F(ReconcilerHooksTest, APreStopThatTakesTheWholeGraceLeavesTheSignalTwoSeconds) {
  Want();
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  calls_.clear();
  actions_.takes = absl::Seconds(7);
  desired_.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("hook drain in default.web within 7s", "stop default.web 2s",
                                  "delete default.web"));
}

TEST_F(ReconcilerHooksTest, TheCreatedWithPreStopRunsWhenNoSourceHoldsTheObject) {
  Want();
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  // Annotated as created: named ports by number.
  EXPECT_EQ(runtime_.containers["default.web"].annotations.at("berth.dev/pre-stop"),
            R"({"exec":{"command":["drain"]}})");
  calls_.clear();
  desired_.clear();
  actions_.results = {{false, "exit status 3"}};
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("hook drain in default.web within 7s", "stop default.web 7s",
                                  "delete default.web"));
  EXPECT_EQ(actions_.targets.back().ip, "10.88.0.5");
}

TEST_F(ReconcilerHooksTest, AFailingPreStopIsAnEventAndTheStopGoesOn) {
  Want();
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  calls_.clear();
  actions_.results = {{false, "exit status 3: no drain"}};
  desired_["default.web"].spec.command = {"other"};
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(events_.events,
              Contains("Warning FailedPreStopHook: PreStop hook failed: exit status 3: no drain"));
  EXPECT_THAT(calls_, Contains("stop default.web 7s"));
  EXPECT_THAT(calls_, Contains("start default.web"));
}

TEST_F(ReconcilerHooksTest, NoPreStopForAContainerThatDoesNotRunOrWithoutGrace) {
  NodeContainer& o = Want();
  o.spec.termination_grace_period_seconds = 0;
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  calls_.clear();
  desired_.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("stop default.web 0", "delete default.web"));
  Want();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  runtime_.containers["default.web"].state = ContainerState::kPaused;
  calls_.clear();
  desired_.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("stop default.web 7s", "delete default.web"));
}

TEST_F(ReconcilerHooksTest, AFailedPostStartStopsTheContainerWhichThenRestarts) {
  Want();
  actions_.results = {{false, "exit status 1: not warm"}};
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  // kubelet: the event, the kill (preStop first), then the exit decided as
  // any: a first exit restarts at once.
  EXPECT_THAT(calls_, ElementsAre("create default.web", "start default.web",
                                  "hook warm in default.web within 2m",
                                  "hook drain in default.web within 7s", "stop default.web 7s",
                                  "delete default.web", "create default.web", "start default.web",
                                  "hook warm in default.web within 2m"));
  EXPECT_THAT(
      events_.events,
      Contains("Warning FailedPostStartHook: PostStart hook failed: exit status 1: not warm"));
  EXPECT_THAT(events_.events,
              Contains("Normal Killing: Stopping container web: its postStart hook failed "
                       "(grace period 7s)"));
  EXPECT_EQ(sink_.reports["default.web"].phase, "Running");
  EXPECT_EQ(sink_.reports["default.web"].restart_count, 1);
  EXPECT_EQ(sink_.reports["default.web"].last_exit_code, 143);
}

TEST_F(ReconcilerHooksTest, AFailedPostStartWithRestartPolicyNeverLeavesItFailed) {
  Want().spec.restart_policy = RestartPolicy::kNever;
  actions_.results = {{false, "no"}};
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_EQ(calls_.back(), "stop default.web 7s");
  EXPECT_EQ(sink_.reports["default.web"].phase, "Failed");
}

TEST_F(ReconcilerHooksTest, NoHookRunsTwiceForAContainerAfterAReconcilerRestart) {
  Want();
  {
    Reconciler first = Make();
    ASSERT_TRUE(first.Reconcile("default.web").status.ok());
  }
  // As if berthd died while the postStart ran, and the next one found the
  // container "created" (a restart between the runtime's start and its
  // record would look so): the record says the hook began.
  runtime_.containers["default.web"].state = ContainerState::kCreated;
  calls_.clear();
  Reconciler second = Make();
  ASSERT_TRUE(second.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("start default.web"));
  // A preStop interrupted the same way: the stop after the restart gives
  // the signal the whole grace period.
  {
    Reconciler third = Make();
    actions_.takes = absl::Seconds(1);
    calls_.clear();
    desired_.clear();
    runtime_.containers["default.web"].state = ContainerState::kRunning;
    LifecycleHooks hooks(runtime_, clock_, {&actions_, records_dir_});
    ContainerStatus saved = runtime_.containers["default.web"];
    EXPECT_EQ(hooks.Stop("default.web", absl::Seconds(7)).signal_grace, absl::Seconds(6));
    runtime_.containers["default.web"] = saved;  // berthd died before the stop's record
    calls_.clear();
    ASSERT_TRUE(third.Reconcile("default.web").status.ok());
    EXPECT_THAT(calls_, ElementsAre("stop default.web 7s", "delete default.web"));
  }
  // The next container of the id is a new one: its hooks run.
  Want();
  calls_.clear();
  Reconciler fourth = Make();
  ASSERT_TRUE(fourth.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("create default.web", "start default.web",
                                  "hook warm in default.web within 2m"));
}

TEST_F(ReconcilerHooksTest, WithoutAnActionRunnerNoHookRuns) {
  options_.actions = nullptr;
  Want();
  Reconciler r = Make();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  calls_.clear();
  desired_.clear();
  ASSERT_TRUE(r.Reconcile("default.web").status.ok());
  EXPECT_THAT(calls_, ElementsAre("stop default.web 7s", "delete default.web"));
}

}  // namespace
}  // namespace berth::controller
