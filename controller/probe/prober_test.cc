#include "controller/probe/prober.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers an exec handler by its command's first word: healthy or not.
class FakeRunner : public ActionRunner {
 public:
  ActionResult Run(const Handler& h, const ActionTarget& target, absl::Duration timeout) override {
    absl::MutexLock l(&mu_);
    const std::string what = h.exec->command[0];
    calls.push_back(what);
    timeouts.push_back(timeout);
    targets.push_back(target);
    const bool ok = healthy.count(what) != 0 ? healthy[what] : true;
    return {ok, ok ? "fine" : what + " is broken"};
  }
  int Calls(const std::string& what) {
    absl::MutexLock l(&mu_);
    return static_cast<int>(std::count(calls.begin(), calls.end(), what));
  }
  absl::Mutex mu_;
  std::map<std::string, bool> healthy;
  std::vector<std::string> calls;
  std::vector<absl::Duration> timeouts;
  std::vector<ActionTarget> targets;
};

class Events : public EventRecorder {
 public:
  void Record(const NodeContainer&, EventType type, absl::string_view reason,
              absl::string_view message) override {
    absl::MutexLock l(&mu);
    all.push_back(
        absl::StrCat(type == EventType::kWarning ? "Warning " : "Normal ", reason, ": ", message));
  }
  absl::Mutex mu;
  std::vector<std::string> all;
};

Probe ExecProbe(const std::string& what, int64_t period, int64_t failure = 3, int64_t success = 1) {
  Probe p;
  p.handler.exec = ExecAction{{what}};
  p.period_seconds = period;
  p.failure_threshold = failure;
  p.success_threshold = success;
  return p;
}

class ProberTest : public ::testing::Test {
 protected:
  ProberTest() {
    object_.metadata.name = "web";
    object_.metadata.namespace_ = "default";
    running_.id = "default_web";
    running_.state = runtime::ContainerState::kRunning;
    running_.created_at = clock_.Now() - absl::Seconds(1);
    running_.started_at = clock_.Now();
    running_.ip = "10.0.0.7";
  }
  std::unique_ptr<Prober> Make(std::string state_dir = "") {
    ProberOptions o;
    o.workers = 0;
    o.state_dir = std::move(state_dir);
    o.events = &events_;
    o.kill = [this](const std::string& id, const ProbeKill& k) { kills_.push_back({id, k}); };
    o.changed = [this](const std::string& id) { changed_.push_back(id); };
    o.on_result = [this](ProbeType t, bool ok) { ++results_[{t, ok}]; };
    return std::make_unique<Prober>(runner_, clock_, clock_, std::move(o));
  }
  bool Observe(Prober& p) { return p.Observe("default_web", object_, &running_); }
  // Moves the clock and runs what is due.
  void Tick(Prober& p, absl::Duration d) {
    clock_.Advance(d);
    p.RunDue();
  }

  FakeClock clock_;
  FakeRunner runner_;
  Events events_;
  NodeContainer object_;
  runtime::ContainerStatus running_;
  std::vector<std::pair<std::string, ProbeKill>> kills_;
  std::vector<std::string> changed_;
  std::map<std::pair<ProbeType, bool>, int> results_;
};

TEST_F(ProberTest, LivenessFailurePastTheThresholdKillsOnce) {
  object_.spec.liveness_probe = ExecProbe("live", 10);
  object_.spec.liveness_probe->termination_grace_period_seconds = 7;
  object_.spec.liveness_probe->timeout_seconds = 4;
  auto p = Make();
  EXPECT_TRUE(Observe(*p));  // no readiness probe: ready once running
  EXPECT_EQ(p->RunDue(), 1);
  EXPECT_EQ(runner_.timeouts[0], absl::Seconds(4));
  EXPECT_EQ(runner_.targets[0].container_id, "default_web");
  EXPECT_EQ(runner_.targets[0].ip, "10.0.0.7");
  runner_.healthy["live"] = false;
  Tick(*p, absl::Seconds(9));
  EXPECT_EQ(runner_.Calls("live"), 1);  // not before its period
  Tick(*p, absl::Seconds(1));
  Tick(*p, absl::Seconds(10));
  EXPECT_TRUE(kills_.empty());
  Tick(*p, absl::Seconds(10));
  ASSERT_EQ(kills_.size(), 1u);
  EXPECT_EQ(kills_[0].first, "default_web");
  EXPECT_EQ(kills_[0].second.message, "Container web failed liveness probe, will be restarted");
  EXPECT_EQ(kills_[0].second.grace, absl::Seconds(7));
  EXPECT_EQ(kills_[0].second.created_at, running_.created_at);
  EXPECT_THAT(events_.all, ElementsAre("Warning Unhealthy: Liveness probe failed: live is broken",
                                       "Warning Unhealthy: Liveness probe failed: live is broken",
                                       "Warning Unhealthy: Liveness probe failed: live is broken"));
  // On hold until a new container: no more runs, no second kill.
  Tick(*p, absl::Seconds(60));
  EXPECT_EQ(runner_.Calls("live"), 4);
  EXPECT_EQ(kills_.size(), 1u);
  EXPECT_EQ((results_[{ProbeType::kLiveness, false}]), 3);
  // The restarted container is probed afresh.
  running_.created_at = clock_.Now();
  running_.started_at = clock_.Now();
  runner_.healthy["live"] = true;
  Observe(*p);
  p->RunDue();
  EXPECT_EQ(runner_.Calls("live"), 5);
}

TEST_F(ProberTest, InitialDelayCountsFromTheStart) {
  object_.spec.liveness_probe = ExecProbe("live", 5);
  object_.spec.liveness_probe->initial_delay_seconds = 15;
  auto p = Make();
  Observe(*p);
  Tick(*p, absl::Seconds(14));
  EXPECT_EQ(runner_.Calls("live"), 0);
  Tick(*p, absl::Seconds(1));
  EXPECT_EQ(runner_.Calls("live"), 1);
  // A container that started long ago (adopted) is probed at once.
  running_.id = "other";
  running_.started_at = clock_.Now() - absl::Hours(1);
  p->Observe("other", object_, &running_);
  p->RunDue();
  EXPECT_EQ(runner_.Calls("live"), 2);
}

TEST_F(ProberTest, ReadinessFollowsItsThresholdsAndAsksForALook) {
  object_.spec.readiness_probe = ExecProbe("ready", 1, /*failure=*/2, /*success=*/2);
  auto p = Make();
  EXPECT_FALSE(Observe(*p));  // not ready before the first success
  p->RunDue();
  EXPECT_FALSE(Observe(*p));  // one success of two
  EXPECT_TRUE(changed_.empty());
  Tick(*p, absl::Seconds(1));
  EXPECT_THAT(changed_, ElementsAre("default_web"));
  EXPECT_TRUE(Observe(*p));
  runner_.healthy["ready"] = false;
  Tick(*p, absl::Seconds(1));
  EXPECT_TRUE(Observe(*p));  // one failure of two
  Tick(*p, absl::Seconds(1));
  EXPECT_FALSE(Observe(*p));
  EXPECT_EQ(changed_.size(), 2u);
  EXPECT_TRUE(kills_.empty());  // readiness never kills
  // Not running: not ready, and nothing runs.
  EXPECT_FALSE(p->Observe("default_web", object_, nullptr));
  const int calls = runner_.Calls("ready");
  Tick(*p, absl::Seconds(10));
  EXPECT_EQ(runner_.Calls("ready"), calls);
}

TEST_F(ProberTest, StartupProbeHoldsTheOthersOff) {
  object_.spec.startup_probe = ExecProbe("start", 1, /*failure=*/30);
  object_.spec.liveness_probe = ExecProbe("live", 1);
  object_.spec.readiness_probe = ExecProbe("ready", 1);
  runner_.healthy["start"] = false;
  runner_.healthy["live"] = false;  // would kill if it ran
  auto p = Make();
  EXPECT_FALSE(Observe(*p));
  for (int i = 0; i < 10; ++i) Tick(*p, absl::Seconds(1));
  EXPECT_EQ(runner_.Calls("start"), 10);
  EXPECT_EQ(runner_.Calls("live"), 0);
  EXPECT_EQ(runner_.Calls("ready"), 0);
  runner_.healthy["start"] = true;
  runner_.healthy["live"] = true;
  Tick(*p, absl::Seconds(1));
  EXPECT_EQ(runner_.Calls("live"), 1);  // at once after the start
  EXPECT_EQ(runner_.Calls("ready"), 1);
  EXPECT_TRUE(Observe(*p));
  for (int i = 0; i < 5; ++i) Tick(*p, absl::Seconds(1));
  EXPECT_EQ(runner_.Calls("start"), 11);  // done once it succeeded
  EXPECT_EQ(runner_.Calls("live"), 6);
  EXPECT_TRUE(kills_.empty());
}

TEST_F(ProberTest, StartupFailurePastTheThresholdKills) {
  object_.spec.startup_probe = ExecProbe("start", 2, /*failure=*/3);
  runner_.healthy["start"] = false;
  auto p = Make();
  Observe(*p);
  p->RunDue();
  Tick(*p, absl::Seconds(2));
  EXPECT_TRUE(kills_.empty());
  Tick(*p, absl::Seconds(2));
  ASSERT_EQ(kills_.size(), 1u);
  EXPECT_EQ(kills_[0].second.message, "Container web failed startup probe, will be restarted");
  EXPECT_FALSE(kills_[0].second.grace.has_value());
}

TEST_F(ProberTest, AChangedProbeSwapsOnlyItsWorker) {
  object_.spec.liveness_probe = ExecProbe("live", 10);
  object_.spec.readiness_probe = ExecProbe("ready", 10);
  runner_.healthy["live"] = false;
  auto p = Make();
  EXPECT_FALSE(Observe(*p));
  p->RunDue();
  Tick(*p, absl::Seconds(10));  // liveness: two failures
  EXPECT_TRUE(Observe(*p));
  // Readiness changes: its new worker runs at once, the result is kept.
  object_.spec.readiness_probe = ExecProbe("ready2", 10);
  EXPECT_TRUE(Observe(*p));
  p->RunDue();
  EXPECT_EQ(runner_.Calls("ready2"), 1);
  EXPECT_EQ(runner_.Calls("live"), 2);
  // Liveness kept its count: the next failure is the third.
  Tick(*p, absl::Seconds(10));
  EXPECT_EQ(kills_.size(), 1u);
  // Removing the readiness probe: ready without one.
  object_.spec.readiness_probe.reset();
  EXPECT_TRUE(Observe(*p));
}

TEST_F(ProberTest, CountsSurviveARestartOfTheProberForTheSameInstance) {
  char dir[] = "/tmp/prober-state.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  object_.spec.liveness_probe = ExecProbe("live", 10);
  object_.spec.readiness_probe = ExecProbe("ready", 10);
  runner_.healthy["live"] = false;
  {
    auto p = Make(dir);
    Observe(*p);
    p->RunDue();
    Tick(*p, absl::Seconds(10));  // two failures, ready
    EXPECT_TRUE(Observe(*p));
  }  // berthd killed here
  Tick(*Make(), absl::Seconds(3));
  auto p = Make(dir);
  EXPECT_TRUE(Observe(*p));  // ready, as before the restart
  p->RunDue();               // the third failure
  ASSERT_EQ(kills_.size(), 1u);
  // Another instance (restarted meanwhile) starts afresh.
  auto q = Make(dir);
  running_.created_at += absl::Seconds(1);
  EXPECT_FALSE(Observe(*q));
  q->RunDue();
  EXPECT_EQ(kills_.size(), 1u);
  q->Forget("default_web");
  EXPECT_EQ(std::system(absl::StrCat("rmdir ", dir).c_str()), 0);  // the state file went
}

TEST(TimerPoolTest, RunsDueTasksInTimeOrderAndHonoursCancel) {
  FakeClock clock;
  TimerPool pool(clock, 0);
  std::vector<int> ran;
  pool.Schedule(clock.Now() + absl::Seconds(2), [&] { ran.push_back(2); });
  pool.Schedule(clock.Now() + absl::Seconds(1), [&] { ran.push_back(1); });
  uint64_t c = pool.Schedule(clock.Now() + absl::Seconds(1), [&] { ran.push_back(99); });
  pool.Schedule(clock.Now() + absl::Seconds(3), [&] { ran.push_back(3); });
  pool.Cancel(c);
  EXPECT_EQ(pool.RunDue(), 0);
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(pool.RunDue(), 2);
  EXPECT_THAT(ran, ElementsAre(1, 2));
  EXPECT_EQ(pool.Pending(), 1u);
  pool.Stop();
  EXPECT_EQ(pool.Pending(), 0u);
  EXPECT_EQ(pool.Schedule(clock.Now(), [] {}), 0u);
}

TEST(TimerPoolTest, ThreadsRunAtMostWorkersTasksAtOnce) {
  TimerPool pool(SteadyClock(), 3);
  absl::Mutex mu;
  int running = 0, max_running = 0, done = 0;
  const absl::Time start = SteadyClock().Now() + absl::Milliseconds(20);
  for (int i = 0; i < 12; ++i) {
    pool.Schedule(start, [&] {
      {
        absl::MutexLock l(&mu);
        max_running = std::max(max_running, ++running);
      }
      absl::SleepFor(absl::Milliseconds(20));
      absl::MutexLock l(&mu);
      --running;
      ++done;
    });
  }
  absl::MutexLock l(&mu);
  auto all_done = [&] { return done == 12; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(10)));
  EXPECT_EQ(max_running, 3);
}

}  // namespace
}  // namespace berth::controller
