#include "controller/queue/parallel_for.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using ::testing::Each;
using ::testing::ElementsAreArray;

// Counts the calls of each index and the threads they ran on.
struct Calls {
  explicit Calls(size_t n) : count(n) {
    for (auto& c : count) c = 0;
  }
  void Call(size_t i) {
    count[i].fetch_add(1);
    absl::MutexLock l(&mu);
    threads.insert(std::this_thread::get_id());
    order.push_back(i);
  }
  std::vector<int> Counts() const {
    std::vector<int> out;
    for (const auto& c : count) out.push_back(c.load());
    return out;
  }
  std::vector<std::atomic<int>> count;
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  std::vector<size_t> order;
};

TEST(ParallelForTest, EveryIndexOnceForAnyCountAndCores) {
  for (size_t cores : {1, 2, 3, 8, 16}) {
    for (size_t n : {0, 1, 15, 16, 17, 63, 64, 127, 128, 129, 200, 1000, 1031}) {
      Calls calls(n);
      ParallelForOptions o;
      o.cores = cores;
      ParallelFor(n, [&](size_t i) { calls.Call(i); }, o);
      EXPECT_THAT(calls.Counts(), Each(1)) << "n " << n << ", cores " << cores;
      EXPECT_LE(calls.threads.size(), std::min<size_t>({cores, 8, std::max<size_t>(n / 64, 1)}))
          << "n " << n << ", cores " << cores;
    }
  }
}

TEST(ParallelForTest, FewIndexesRunOnTheCallerInOrder) {
  Calls calls(127);  // under two threads' worth (64 each)
  ParallelForOptions o;
  o.cores = 8;
  o.start_thread = [](std::function<void()>) -> std::optional<std::thread> {
    ADD_FAILURE() << "no thread is started for so few";
    return std::nullopt;
  };
  ParallelFor(127, [&](size_t i) { calls.Call(i); }, o);
  std::vector<size_t> expected(127);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i;
  EXPECT_THAT(calls.order, ElementsAreArray(expected));
  EXPECT_EQ(calls.threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(ParallelForTest, ManyIndexesUseAHelperPerCoreUpToTheMax) {
  std::atomic<int> started{0};
  ParallelForOptions o;
  o.cores = 16;
  o.max_threads = 4;
  o.start_thread = [&](std::function<void()> work) -> std::optional<std::thread> {
    ++started;
    return std::thread(std::move(work));
  };
  Calls calls(1000);
  ParallelFor(1000, [&](size_t i) { calls.Call(i); }, o);
  EXPECT_EQ(started.load(), 3) << "three helpers and the caller";
  EXPECT_THAT(calls.Counts(), Each(1));
}

// No thread to be had (a task limit): the caller does it all.
TEST(ParallelForTest, WithoutThreadsTheCallerDoesEverything) {
  ParallelForOptions o;
  o.cores = 8;
  int asked = 0;
  o.start_thread = [&](std::function<void()>) -> std::optional<std::thread> {
    ++asked;
    return std::nullopt;
  };
  Calls calls(1000);
  ParallelFor(1000, [&](size_t i) { calls.Call(i); }, o);
  EXPECT_EQ(asked, 1) << "it stops asking at the first refusal";
  EXPECT_THAT(calls.Counts(), Each(1));
  EXPECT_EQ(calls.threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

// One helper, then none: the two share the work.
TEST(ParallelForTest, FewerThreadsThanAskedShareTheWork) {
  ParallelForOptions o;
  o.cores = 8;
  int asked = 0;
  o.start_thread = [&](std::function<void()> work) -> std::optional<std::thread> {
    if (++asked > 1) return std::nullopt;
    return std::thread(std::move(work));
  };
  Calls calls(2000);
  ParallelFor(2000, [&](size_t i) { calls.Call(i); }, o);
  EXPECT_EQ(asked, 2);
  EXPECT_THAT(calls.Counts(), Each(1));
  EXPECT_LE(calls.threads.size(), 2u);
}

// It returns only when every call has returned, also those of helpers that
// take longer than the caller.
TEST(ParallelForTest, ReturnsWhenEveryCallHasReturned) {
  ParallelForOptions o;
  o.cores = 4;
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> done{0};
  ParallelFor(
      256,
      [&](size_t) {
        if (std::this_thread::get_id() != caller) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ++done;
      },
      o);
  EXPECT_EQ(done.load(), 256);
}

}  // namespace
}  // namespace berth
