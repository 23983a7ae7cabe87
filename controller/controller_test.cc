#include "controller/controller.h"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "controller/sources/channel_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

ContainerStatus Exited(absl::Time created_at, int code) {
  ContainerStatus c;
  c.id = "default.crash";
  c.state = ContainerState::kStopped;
  c.created_at = created_at;
  c.exit_code = code;
  c.reason = "Error";
  return c;
}

TEST(RelistSignatureTest, TwoInstancesThatExitedAlikeDiffer) {
  // A container that crashes at once, restarted: both instances read as
  // stopped, pid 0, exit code 3; only the instance tells them apart.
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_NE(RelistSignature(Exited(t, 3)), RelistSignature(Exited(t + absl::Milliseconds(1), 3)));
  EXPECT_EQ(RelistSignature(Exited(t, 3)), RelistSignature(Exited(t, 3)));
}

TEST(RelistSignatureTest, StateExitCodeAndReasonCount) {
  const absl::Time t = absl::FromUnixSeconds(1000);
  ContainerStatus running = Exited(t, 0);
  running.state = ContainerState::kRunning;
  running.exit_code.reset();
  running.pid = 42;
  running.reason.clear();
  EXPECT_NE(RelistSignature(running), RelistSignature(Exited(t, 0)));
  EXPECT_NE(RelistSignature(Exited(t, 1)), RelistSignature(Exited(t, 2)));
  ContainerStatus lost = Exited(t, 0);
  lost.exit_code.reset();
  lost.reason = "ExitCodeLost";
  ContainerStatus exiting = lost;
  exiting.state = ContainerState::kUnknown;
  exiting.reason = "Exiting";
  EXPECT_NE(RelistSignature(lost), RelistSignature(exiting));
}

// The node's containers, as List reports them; only List is used by the
// controller.
class FakeRuntime : public runtime::Runtime {
 public:
  absl::Status Create(const runtime::ContainerSpec&) override { return Unused(); }
  absl::Status Start(const std::string&) override { return Unused(); }
  absl::Status Stop(const std::string&, absl::Duration) override { return Unused(); }
  absl::Status Delete(const std::string&) override { return Unused(); }
  absl::StatusOr<ContainerStatus> State(const std::string&) override { return Unused(); }
  absl::StatusOr<std::vector<ContainerStatus>> List() override {
    absl::MutexLock l(&mu_);
    if (!list_error_.ok()) return list_error_;
    std::vector<ContainerStatus> out;
    for (const auto& [id, c] : containers_) out.push_back(c);
    return out;
  }

  void Put(const std::string& id, ContainerState state, int pid) {
    ContainerStatus c;
    c.id = id;
    c.state = state;
    c.pid = pid;
    c.created_at = absl::FromUnixSeconds(1000);
    absl::MutexLock l(&mu_);
    containers_[id] = c;
  }
  void Remove(const std::string& id) {
    absl::MutexLock l(&mu_);
    containers_.erase(id);
  }
  void FailList(absl::Status s) {
    absl::MutexLock l(&mu_);
    list_error_ = std::move(s);
  }

 private:
  static absl::Status Unused() { return absl::UnimplementedError("not used by the controller"); }
  absl::Mutex mu_;
  std::map<std::string, ContainerStatus> containers_ ABSL_GUARDED_BY(mu_);
  absl::Status list_error_ ABSL_GUARDED_BY(mu_);
};

// A source holding ids (no objects needed: the reconcile is fake), pushing
// to the controller's handler when told.
class FakeSource : public Source {
 public:
  std::string Name() const override { return "fake"; }
  std::vector<std::string> Ids() const override {
    absl::MutexLock l(&mu_);
    return ids_;
  }
  std::optional<NodeContainer> Get(const std::string&) const override { return std::nullopt; }
  bool MayRemove(const ContainerStatus&) const override { return true; }
  void Watch(Handler* handler) override { handler_ = handler; }
  void Resync() override {
    absl::MutexLock l(&mu_);
    ++resyncs_;
  }

  void SetIds(std::vector<std::string> ids) {
    absl::MutexLock l(&mu_);
    ids_ = std::move(ids);
  }
  int resyncs() const {
    absl::MutexLock l(&mu_);
    return resyncs_;
  }
  Handler* handler() const { return handler_; }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
  int resyncs_ ABSL_GUARDED_BY(mu_) = 0;
  Handler* handler_ = nullptr;
};

// Records every Reconcile call; answers with what a test sets per id.
class FakeReconciler {
 public:
  ReconcileFunc Func() {
    return [this](const std::string& id) {
      absl::MutexLock l(&mu_);
      calls_.push_back({id, absl::Now()});
      if (auto it = results_.find(id); it != results_.end() && !it->second.empty()) {
        ReconcileResult r = it->second.front();
        it->second.erase(it->second.begin());
        return r;
      }
      return ReconcileResult{};
    };
  }
  // The next results for `id`, in order; then OK.
  void Answer(const std::string& id, std::vector<ReconcileResult> results) {
    absl::MutexLock l(&mu_);
    results_[id] = std::move(results);
  }
  int Count(const std::string& id) const {
    absl::MutexLock l(&mu_);
    int n = 0;
    for (const auto& c : calls_) n += c.id == id;
    return n;
  }
  std::vector<absl::Time> Times(const std::string& id) const {
    absl::MutexLock l(&mu_);
    std::vector<absl::Time> out;
    for (const auto& c : calls_) {
      if (c.id == id) out.push_back(c.at);
    }
    return out;
  }
  std::set<std::string> Ids() const {
    absl::MutexLock l(&mu_);
    std::set<std::string> out;
    for (const auto& c : calls_) out.insert(c.id);
    return out;
  }
  // Waits up to 5 s for `done`.
  bool WaitFor(std::function<bool()> done) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

 private:
  struct Call {
    std::string id;
    absl::Time at;
  };
  mutable absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<ReconcileResult>> results_ ABSL_GUARDED_BY(mu_);
};

ControllerOptions Fast() {
  ControllerOptions o;
  o.workers = 2;
  o.relist_period = absl::Hours(1);  // tests of the relist set their own
  o.retry_base_delay = absl::Milliseconds(20);
  o.retry_max_delay = absl::Seconds(1);
  return o;
}

TEST(ControllerTest, WorkersDrainWhatAWatchedSourcePushes) {
  FakeRuntime rt;
  FakeReconciler rec;
  FakeSource source;
  ChannelSource exits("exits");
  exits.Push("default.early");  // before Watch: kept
  Controller c(rt, rec.Func(), SteadyClock(), Fast());
  c.Watch(source);
  c.Watch(exits);
  ASSERT_NE(source.handler(), nullptr);
  source.handler()->OnChange("default.a");  // before Start: kept
  c.Start();
  source.handler()->OnChange("default.b");
  exits.Push("default.c");
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Ids().size() == 4; }));
  EXPECT_THAT(rec.Ids(),
              UnorderedElementsAre("default.early", "default.a", "default.b", "default.c"));
  c.Stop();
  EXPECT_EQ(rec.Count("default.a"), 1);
}

TEST(ControllerTest, AResyncPushReachesEveryDesiredIdAndEveryContainer) {
  FakeRuntime rt;
  rt.Put("default.orphan", ContainerState::kRunning, 10);
  FakeReconciler rec;
  FakeSource source;
  source.SetIds({"default.wanted"});
  Controller c(rt, rec.Func(), SteadyClock(), Fast());
  c.Watch(source);
  c.Start();
  source.handler()->OnResync();
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Ids().size() == 2; }));
  EXPECT_THAT(rec.Ids(), UnorderedElementsAre("default.wanted", "default.orphan"));

  // Resync re-reads each source first.
  c.Resync();
  EXPECT_EQ(source.resyncs(), 1);
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.orphan") == 2; }));
  // A failing List still queues the desired ids.
  rt.FailList(absl::UnavailableError("runc list: busy"));
  c.EnqueueAll();
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.wanted") == 3; }));
}

TEST(ControllerTest, ErrorsAreRetriedWithGrowingBackoffUntilTheyPass) {
  FakeRuntime rt;
  FakeReconciler rec;
  ChannelSource source("test");
  rec.Answer("default.x", {{absl::UnavailableError("pull busybox: connection refused")},
                           {absl::UnavailableError("pull busybox: connection refused")},
                           {absl::UnavailableError("pull busybox: connection refused")}});
  Controller c(rt, rec.Func(), SteadyClock(), Fast());
  c.Watch(source);
  c.Start();
  source.Push("default.x");
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.x") == 4; }));
  std::vector<absl::Time> t = rec.Times("default.x");
  // 20 ms, 40 ms, 80 ms (a little less for the clock's grain).
  EXPECT_GE(t[1] - t[0], absl::Milliseconds(18));
  EXPECT_GE(t[2] - t[1], absl::Milliseconds(38));
  EXPECT_GE(t[3] - t[2], absl::Milliseconds(78));
  // Success forgets the failures: the next error starts over at 20 ms.
  rec.Answer("default.x", {{absl::UnavailableError("again")}});
  source.Push("default.x");
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.x") == 6; }));
  t = rec.Times("default.x");
  EXPECT_LT(t[5] - t[4], absl::Milliseconds(70));
}

TEST(ControllerTest, TerminalErrorsAndCancellationAreNotRetriedButRequeueAfterIs) {
  FakeRuntime rt;
  FakeReconciler rec;
  ChannelSource source("test");
  rec.Answer("default.bad", {{absl::InvalidArgumentError("create container: bad spec")}});
  rec.Answer("default.cancelled", {{absl::CancelledError("pull cancelled")}});
  rec.Answer("default.later", {{absl::OkStatus(), absl::Milliseconds(30)}});
  Controller c(rt, rec.Func(), SteadyClock(), Fast());
  c.Watch(source);
  c.Start();
  for (const char* id : {"default.bad", "default.cancelled", "default.later"}) source.Push(id);
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.later") == 2; }));
  std::vector<absl::Time> t = rec.Times("default.later");
  EXPECT_GE(t[1] - t[0], absl::Milliseconds(28));
  absl::SleepFor(absl::Milliseconds(150));  // several retry delays
  EXPECT_EQ(rec.Count("default.bad"), 1);
  EXPECT_EQ(rec.Count("default.cancelled"), 1);
  EXPECT_EQ(rec.Count("default.later"), 2);
}

TEST(ControllerTest, RelistQueuesNewChangedAndRemovedContainers) {
  FakeRuntime rt;
  rt.Put("default.a", ContainerState::kRunning, 10);
  rt.Put("default.b", ContainerState::kRunning, 11);
  FakeReconciler rec;
  ControllerOptions o = Fast();
  o.relist_period = absl::Milliseconds(10);
  Controller c(rt, rec.Func(), SteadyClock(), o);
  c.Start();
  // New to the relister: both.
  ASSERT_TRUE(
      rec.WaitFor([&] { return rec.Count("default.a") == 1 && rec.Count("default.b") == 1; }));
  absl::SleepFor(absl::Milliseconds(50));  // unchanged lists queue nothing
  EXPECT_EQ(rec.Count("default.a"), 1);
  EXPECT_EQ(rec.Count("default.b"), 1);
  rt.Put("default.a", ContainerState::kStopped, 0);  // exited
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.a") == 2; }));
  rt.Remove("default.b");  // removed behind Berth's back
  ASSERT_TRUE(rec.WaitFor([&] { return rec.Count("default.b") == 2; }));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(rec.Count("default.a"), 2);
  EXPECT_EQ(rec.Count("default.b"), 2);
}

TEST(ControllerTest, StopLetsARunningReconcileFinishAndDropsLaterPushes) {
  FakeRuntime rt;
  ChannelSource source("test");
  absl::Mutex mu;
  bool entered = false, finished = false;
  std::vector<std::string> seen;
  ReconcileFunc slow = [&](const std::string& id) {
    {
      absl::MutexLock l(&mu);
      entered = true;
      seen.push_back(id);
    }
    absl::SleepFor(absl::Milliseconds(100));
    absl::MutexLock l(&mu);
    finished = true;
    return ReconcileResult{};
  };
  ControllerOptions o = Fast();
  o.relist_period = absl::Milliseconds(10);
  auto c = std::make_unique<Controller>(rt, slow, SteadyClock(), o);
  c->Watch(source);
  c->Start();
  source.Push("default.slow");
  {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(&entered));
  }
  c->Stop();
  {
    absl::MutexLock l(&mu);
    EXPECT_TRUE(finished) << "Stop returned before the reconcile in progress ended";
  }
  source.Push("default.late");
  c->Stop();  // idempotent
  c.reset();  // and the destructor after it
  absl::MutexLock l(&mu);
  EXPECT_THAT(seen, ElementsAre("default.slow"));
}

}  // namespace
}  // namespace berth::controller
