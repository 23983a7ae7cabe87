#include "controller/berthd/stop_all.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::berthd {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A runtime whose Delete takes a while, counts how many run at once, and
// fails a given number of times for some ids. Thread-safe.
class SlowDeleteRuntime : public runtime::Runtime {
 public:
  absl::Status Create(const runtime::ContainerSpec&) override {
    return absl::UnimplementedError("");
  }
  absl::Status Start(const std::string&) override { return absl::UnimplementedError(""); }
  absl::Status Stop(const std::string& id, absl::Duration) override {
    absl::MutexLock lock(&mu_);
    stopped_.insert(id);
    containers_[id].state = ContainerState::kStopped;
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& id) override {
    {
      absl::MutexLock lock(&mu_);
      max_deleting_ = std::max(max_deleting_, ++deleting_);
    }
    absl::SleepFor(absl::Milliseconds(5));
    absl::MutexLock lock(&mu_);
    --deleting_;
    ++deletes_[id];
    if (failures_[id] > 0) {
      --failures_[id];
      return absl::DeadlineExceededError(absl::StrCat("delete container ", id, ": timed out"));
    }
    containers_.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<ContainerStatus> State(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return absl::NotFoundError(id);
    return it->second;
  }
  absl::StatusOr<std::vector<ContainerStatus>> List() override {
    absl::MutexLock lock(&mu_);
    std::vector<ContainerStatus> out;
    for (const auto& [id, c] : containers_) out.push_back(c);
    return out;
  }

  void Add(const std::string& id, int delete_failures) {
    absl::MutexLock lock(&mu_);
    containers_[id].id = id;
    containers_[id].state = ContainerState::kRunning;
    failures_[id] = delete_failures;
  }
  int max_deleting() {
    absl::MutexLock lock(&mu_);
    return max_deleting_;
  }
  int deletes(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return deletes_[id];
  }
  size_t stopped() {
    absl::MutexLock lock(&mu_);
    return stopped_.size();
  }
  std::vector<std::string> left() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    for (const auto& [id, c] : containers_) ids.push_back(id);
    return ids;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, ContainerStatus> containers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> deletes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> stopped_ ABSL_GUARDED_BY(mu_);
  int deleting_ ABSL_GUARDED_BY(mu_) = 0;
  int max_deleting_ ABSL_GUARDED_BY(mu_) = 0;
};

class RecordingSink : public controller::StatusSink {
 public:
  void Report(const controller::ContainerReport&) override {}
  void Remove(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    removed_.insert(id);
  }
  std::set<std::string> removed() {
    absl::MutexLock lock(&mu_);
    return removed_;
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> removed_ ABSL_GUARDED_BY(mu_);
};

class FixedClock : public controller::Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixSeconds(1000); }
};

TEST(StopAllTest, StopsEveryoneAtOnceDeletesFewAtATimeAndRetries) {
  SlowDeleteRuntime rt;
  for (int i = 0; i < 40; ++i) {
    const std::string id = absl::StrCat("default.c", i);
    rt.Add(id, id == "default.c7" ? 2 : id == "default.c9" ? 5 : 0);
  }
  FixedClock clock;
  controller::LifecycleHooks hooks(rt, clock, {});
  RecordingSink sink;
  StopAll(rt, hooks, sink, StopAllOptions{4, 3, absl::Milliseconds(1)});

  EXPECT_EQ(rt.stopped(), 40u);
  EXPECT_LE(rt.max_deleting(), 4);
  EXPECT_GE(rt.max_deleting(), 2);  // the stops ran at once: deletes queued
  // Failed twice, deleted at the third attempt; failing more is given up
  // after three, and its record stays for the next start.
  EXPECT_EQ(rt.deletes("default.c7"), 3);
  EXPECT_EQ(rt.deletes("default.c9"), 3);
  EXPECT_EQ(rt.deletes("default.c1"), 1);
  EXPECT_THAT(rt.left(), ElementsAre("default.c9"));
  EXPECT_EQ(sink.removed().size(), 39u);
  EXPECT_EQ(sink.removed().count("default.c9"), 0u);
}

TEST(StopAllTest, NothingToStop) {
  SlowDeleteRuntime rt;
  FixedClock clock;
  controller::LifecycleHooks hooks(rt, clock, {});
  RecordingSink sink;
  StopAll(rt, hooks, sink);
  EXPECT_THAT(rt.left(), IsEmpty());
  EXPECT_THAT(sink.removed(), IsEmpty());
}

}  // namespace
}  // namespace berth::berthd
