#include "controller/work_queue.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/clock.h"
#include "controller/crash_loop_backoff.h"

namespace berth::controller {
namespace {

using ::testing::Optional;

// Upper bound for any wait on another thread; never reached when passing.
constexpr absl::Duration kBound = absl::Seconds(5);

// Runs queue->Get() on its own thread; the result is available once done().
// If the Get is still blocked at destruction (a failed test), shuts the queue
// down so that the test ends instead of hanging.
class AsyncGet {
 public:
  explicit AsyncGet(WorkQueue* queue)
      : queue_(queue), thread_([this] {
          result_ = queue_->Get();
          done_.Notify();
        }) {}
  ~AsyncGet() {
    if (!done_.HasBeenNotified()) queue_->ShutDown();
    thread_.join();
  }

  bool WaitDone() { return done_.WaitForNotificationWithTimeout(kBound); }
  bool done() const { return done_.HasBeenNotified(); }
  const std::optional<std::string>& result() const { return result_; }

 private:
  WorkQueue* const queue_;
  std::optional<std::string> result_;
  absl::Notification done_;
  std::thread thread_;
};

// Lets a thread started just before reach its blocking wait. Only makes the
// interesting interleaving likely; the tests are correct in any interleaving.
void LetThreadsBlock() { absl::SleepFor(absl::Milliseconds(20)); }

TEST(WorkQueueTest, DeduplicatesAdds) {
  WorkQueue queue(RealClock());
  queue.Add("a");
  queue.Add("b");
  queue.Add("a");
  queue.Add("b");
  ASSERT_EQ(queue.Len(), 2u);
  EXPECT_THAT(queue.Get(), Optional(std::string("a")));
  EXPECT_THAT(queue.Get(), Optional(std::string("b")));
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, HandsOutReadyKeysInFifoOrder) {
  WorkQueue queue(RealClock());
  for (const char* key : {"c", "a", "b"}) queue.Add(key);
  EXPECT_THAT(queue.Get(), Optional(std::string("c")));
  EXPECT_THAT(queue.Get(), Optional(std::string("a")));
  EXPECT_THAT(queue.Get(), Optional(std::string("b")));
}

TEST(WorkQueueTest, ReAddDuringProcessingIsQueuedOnceAfterDone) {
  WorkQueue queue(RealClock());
  queue.Add("a");
  ASSERT_THAT(queue.Get(), Optional(std::string("a")));

  queue.Add("a");
  queue.Add("a");
  // Not ready while a worker holds it.
  EXPECT_EQ(queue.Len(), 0u);
  AsyncGet second(&queue);
  LetThreadsBlock();
  EXPECT_FALSE(second.done());

  queue.Done("a");
  ASSERT_TRUE(second.WaitDone());
  EXPECT_THAT(second.result(), Optional(std::string("a")));
  // The two adds were merged into one delivery.
  EXPECT_EQ(queue.Len(), 0u);
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, DoneWithoutReAddDoesNotRequeue) {
  WorkQueue queue(RealClock());
  queue.Add("a");
  ASSERT_THAT(queue.Get(), Optional(std::string("a")));
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 0u);
  queue.Done("never-added");  // No-op.
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, GetWakesOnAdd) {
  WorkQueue queue(RealClock());
  AsyncGet get(&queue);
  LetThreadsBlock();
  EXPECT_FALSE(get.done());
  queue.Add("a");
  ASSERT_TRUE(get.WaitDone());
  EXPECT_THAT(get.result(), Optional(std::string("a")));
}

// N workers, few keys, many adds (some by the worker holding the key, like a
// watch event arriving mid-reconcile): no key is ever processed by two workers
// at once, and every key is processed again after its last Add.
TEST(WorkQueueTest, ConcurrentWorkersNeverShareAKey) {
  constexpr int kWorkers = 8;
  constexpr int kKeys = 4;
  constexpr int kAdds = 3000;
  constexpr int kReAdds = 500;  // Adds of a key by the worker processing it.
  WorkQueue queue(RealClock());

  // All guarded by mu.
  absl::Mutex mu;
  absl::flat_hash_set<std::string> in_flight;
  // Sequence numbers of each key's last Add and last processing start.
  int64_t seq = 0;
  absl::flat_hash_map<std::string, int64_t> last_add;
  absl::flat_hash_map<std::string, int64_t> last_start;
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};
  std::atomic<int> re_adds_left{kReAdds};

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = queue.Get()) {
        {
          absl::MutexLock lock(&mu);
          if (!in_flight.insert(*key).second) ++overlaps;
          last_start[*key] = ++seq;
        }
        if (re_adds_left.fetch_sub(1) > 0) {
          {
            absl::MutexLock lock(&mu);
            last_add[*key] = ++seq;
          }
          queue.Add(*key);  // Dirty while processing: not handed out yet.
        }
        // Hold the key briefly: a second worker would now get it if it could.
        absl::SleepFor(absl::Microseconds(20));
        {
          absl::MutexLock lock(&mu);
          in_flight.erase(*key);
        }
        ++processed;
        queue.Done(*key);  // After leaving in_flight, or it would misreport.
      }
    });
  }

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, kKeys - 1);
  for (int i = 0; i < kAdds; ++i) {
    const std::string key = "key-" + std::to_string(pick(rng));
    {
      absl::MutexLock lock(&mu);
      last_add[key] = ++seq;
    }
    queue.Add(key);
  }

  // Every Add is followed by a Get of that key that starts after it.
  const auto all_processed_after_last_add = [&]() {
    mu.AssertHeld();
    for (const auto& [key, add] : last_add) {
      auto it = last_start.find(key);
      if (it == last_start.end() || it->second < add) return false;
    }
    return true;
  };
  bool drained;
  {
    absl::MutexLock lock(&mu);
    drained = mu.AwaitWithTimeout(
        absl::Condition(&all_processed_after_last_add), kBound);
  }
  queue.ShutDown();
  for (std::thread& t : workers) t.join();

  EXPECT_TRUE(drained);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(processed.load(), kKeys);
  EXPECT_GT(processed.load(), kReAdds);  // Each re-add is processed.
  EXPECT_LE(processed.load(), kAdds + kReAdds);
}

TEST(WorkQueueTest, AddAfterBecomesReadyWhenFakeClockAdvances) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", absl::Seconds(1));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(absl::Milliseconds(999));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(absl::Milliseconds(1));
  ASSERT_EQ(queue.Len(), 1u);
  EXPECT_THAT(queue.Get(), Optional(std::string("a")));
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, NonPositiveDelayAddsNow) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", absl::ZeroDuration());
  queue.AddAfter("b", absl::Seconds(-1));
  EXPECT_EQ(queue.Len(), 2u);
}

TEST(WorkQueueTest, BlockedGetWakesOnWakeAfterFakeClockAdvance) {
  FakeClock clock;
  WorkQueue queue(clock);
  // An hour: only Wake (not the real-time timeout) can deliver it in time.
  queue.AddAfter("a", absl::Hours(1));
  AsyncGet get(&queue);
  LetThreadsBlock();
  EXPECT_FALSE(get.done());

  clock.Advance(absl::Hours(1));
  queue.Wake();
  ASSERT_TRUE(get.WaitDone());
  EXPECT_THAT(get.result(), Optional(std::string("a")));
}

TEST(WorkQueueTest, EarlierAddAfterShortensBlockedWait) {
  // Real clock: a Get blocked until "a" is ready in an hour must notice that
  // "b" becomes ready first.
  WorkQueue queue(RealClock());
  queue.AddAfter("a", absl::Hours(1));
  AsyncGet get(&queue);
  LetThreadsBlock();
  queue.AddAfter("b", absl::Milliseconds(10));
  ASSERT_TRUE(get.WaitDone());
  EXPECT_THAT(get.result(), Optional(std::string("b")));
}

TEST(WorkQueueTest, DelayedKeyWithRealClockBecomesReady) {
  WorkQueue queue(RealClock());
  const absl::Time start = absl::Now();
  queue.AddAfter("a", absl::Milliseconds(20));
  EXPECT_EQ(queue.Len(), 0u);
  AsyncGet get(&queue);
  ASSERT_TRUE(get.WaitDone());
  EXPECT_THAT(get.result(), Optional(std::string("a")));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
}

TEST(WorkQueueTest, EarlierReadyTimeWins) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", absl::Seconds(10));
  queue.AddAfter("a", absl::Seconds(1));  // Earlier: replaces.
  queue.AddAfter("b", absl::Seconds(1));
  queue.AddAfter("b", absl::Seconds(10));  // Later: ignored.

  clock.Advance(absl::Seconds(1));
  ASSERT_EQ(queue.Len(), 2u);
  EXPECT_THAT(queue.Get(), Optional(std::string("a")));
  EXPECT_THAT(queue.Get(), Optional(std::string("b")));
  queue.Done("a");
  queue.Done("b");

  // Neither key left a second, later entry behind.
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, DelayedKeysBecomeReadyInReadyTimeOrder) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("late", absl::Seconds(3));
  queue.AddAfter("early", absl::Seconds(1));
  queue.AddAfter("middle", absl::Seconds(2));
  clock.Advance(absl::Seconds(3));
  ASSERT_EQ(queue.Len(), 3u);
  EXPECT_THAT(queue.Get(), Optional(std::string("early")));
  EXPECT_THAT(queue.Get(), Optional(std::string("middle")));
  EXPECT_THAT(queue.Get(), Optional(std::string("late")));
}

TEST(WorkQueueTest, DelayedKeyMergesWithQueuedKey) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  queue.AddAfter("a", absl::Seconds(1));
  clock.Advance(absl::Seconds(1));
  ASSERT_EQ(queue.Len(), 1u);
  EXPECT_THAT(queue.Get(), Optional(std::string("a")));
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, DelayedKeyReadyWhileProcessingWaitsForDone) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  ASSERT_THAT(queue.Get(), Optional(std::string("a")));
  queue.AddAfter("a", absl::Seconds(1));
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(queue.Len(), 0u);
  queue.Add("b");
  EXPECT_THAT(queue.Get(), Optional(std::string("b")));  // Not "a".
  queue.Done("a");
  ASSERT_EQ(queue.Len(), 1u);
  EXPECT_THAT(queue.Get(), Optional(std::string("a")));
}

// Calls AddRateLimited(key) and checks the key becomes ready exactly `delay`
// later; then takes it and calls Done.
void ExpectRateLimitedDelay(WorkQueue& queue, FakeClock& clock,
                            const std::string& key, absl::Duration delay) {
  queue.AddRateLimited(key);
  clock.Advance(delay - absl::Nanoseconds(1));
  EXPECT_EQ(queue.Len(), 0u) << "ready before " << delay;
  clock.Advance(absl::Nanoseconds(1));
  ASSERT_EQ(queue.Len(), 1u) << "not ready after " << delay;
  ASSERT_THAT(queue.Get(), Optional(key));
  queue.Done(key);
}

TEST(WorkQueueTest, RateLimitedDelaysDoubleAndCap) {
  FakeClock clock;
  WorkQueue::Options options;
  options.base_delay = absl::Milliseconds(5);
  options.max_delay = absl::Milliseconds(40);
  WorkQueue queue(clock, options);
  for (int ms : {5, 10, 20, 40, 40, 40}) {
    ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(ms));
  }
  EXPECT_EQ(queue.NumRequeues("a"), 6);
  EXPECT_EQ(queue.NumRequeues("other"), 0);
}

// Raises key's failure count by n without checking delays, then takes the
// key (ready at the earliest of those delays) so that nothing is left waiting.
void AddRateLimitedAndDrain(WorkQueue& queue, FakeClock& clock,
                            const std::string& key, int n) {
  for (int i = 0; i < n; ++i) queue.AddRateLimited(key);
  clock.Advance(absl::Hours(1));
  ASSERT_EQ(queue.Len(), 1u);
  ASSERT_THAT(queue.Get(), Optional(key));
  queue.Done(key);
  ASSERT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, RateLimitedDefaultsAreFiveMsToFiveMinutes) {
  FakeClock clock;
  WorkQueue queue(clock);
  ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(5));
  ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(10));
  AddRateLimitedAndDrain(queue, clock, "a", 13);
  ASSERT_EQ(queue.NumRequeues("a"), 15);
  // 5 ms * 2^15 = 163.84 s; 5 ms * 2^16 = 327.68 s > 5 min.
  ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(163840));
  ExpectRateLimitedDelay(queue, clock, "a", absl::Minutes(5));
  // Far past 2^63: still capped, no overflow.
  AddRateLimitedAndDrain(queue, clock, "a", 100);
  ExpectRateLimitedDelay(queue, clock, "a", absl::Minutes(5));
  EXPECT_EQ(queue.NumRequeues("a"), 118);
}

TEST(WorkQueueTest, ForgetResetsBackoffPerKey) {
  FakeClock clock;
  WorkQueue::Options options;
  options.base_delay = absl::Milliseconds(5);
  options.max_delay = absl::Seconds(1);
  WorkQueue queue(clock, options);
  ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(5));
  ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(10));
  ExpectRateLimitedDelay(queue, clock, "b", absl::Milliseconds(5));
  EXPECT_EQ(queue.NumRequeues("a"), 2);
  EXPECT_EQ(queue.NumRequeues("b"), 1);

  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);
  EXPECT_EQ(queue.NumRequeues("b"), 1);
  ExpectRateLimitedDelay(queue, clock, "a", absl::Milliseconds(5));
  ExpectRateLimitedDelay(queue, clock, "b", absl::Milliseconds(10));
}

TEST(WorkQueueTest, ShutDownUnblocksAllGets) {
  WorkQueue queue(RealClock());
  EXPECT_FALSE(queue.ShuttingDown());
  std::vector<std::unique_ptr<AsyncGet>> gets;
  for (int i = 0; i < 4; ++i) gets.push_back(std::make_unique<AsyncGet>(&queue));
  LetThreadsBlock();
  queue.ShutDown();
  EXPECT_TRUE(queue.ShuttingDown());
  for (auto& get : gets) {
    ASSERT_TRUE(get->WaitDone());
    EXPECT_EQ(get->result(), std::nullopt);
  }
}

TEST(WorkQueueTest, ShutDownUnblocksGetWaitingForDelayedKey) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", absl::Hours(1));
  AsyncGet get(&queue);
  LetThreadsBlock();
  queue.ShutDown();
  ASSERT_TRUE(get.WaitDone());
  EXPECT_EQ(get.result(), std::nullopt);
}

TEST(WorkQueueTest, GetAfterShutDownReturnsNulloptAndAddsAreIgnored) {
  WorkQueue queue(RealClock());
  queue.Add("a");
  queue.ShutDown();
  queue.ShutDown();  // Idempotent.
  EXPECT_EQ(queue.Get(), std::nullopt);
  queue.Add("b");
  queue.AddAfter("c", absl::ZeroDuration());
  queue.AddRateLimited("d");
  EXPECT_EQ(queue.Len(), 1u);  // Only "a", which was never handed out.
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, LenCountsOnlyReadyKeys) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("ready");
  queue.Add("processing");
  queue.AddAfter("delayed", absl::Seconds(5));
  ASSERT_EQ(queue.Len(), 2u);
  ASSERT_THAT(queue.Get(), Optional(std::string("ready")));
  EXPECT_EQ(queue.Len(), 1u);
  queue.Add("ready");  // Now processing: dirty, not ready.
  EXPECT_EQ(queue.Len(), 1u);
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(queue.Len(), 2u);  // "processing" and "delayed".
  queue.Done("ready");
  EXPECT_EQ(queue.Len(), 3u);
}

TEST(WorkQueueFakeClockTest, AdvanceAndSet) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  clock.Set(absl::FromUnixSeconds(50));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(50));
  EXPECT_EQ(FakeClock().Now(), FakeClock::DefaultStart());
}

TEST(WorkQueueFakeClockTest, RealClockIsProcessWide) {
  EXPECT_EQ(&RealClock(), &RealClock());
  const absl::Time before = absl::Now();
  const absl::Time now = RealClock().Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

// Restarts after runs of one second each.
std::vector<int64_t> RestartDelaysSeconds(RestartBackoff& backoff,
                                          const std::string& key, int n,
                                          absl::Time& t) {
  std::vector<int64_t> delays;
  for (int i = 0; i < n; ++i) {
    const absl::Duration d = backoff.OnExit(key, t, t + absl::Seconds(1));
    delays.push_back(absl::ToInt64Seconds(d));
    t += absl::Seconds(1) + d;
  }
  return delays;
}

TEST(RestartBackoffTest, FirstExitAtOnceThenDoublesFromTenSecondsToFiveMinutes) {
  RestartBackoff backoff;
  absl::Time t = FakeClock::DefaultStart();
  EXPECT_EQ(backoff.Current("a"), absl::ZeroDuration());
  EXPECT_THAT(RestartDelaysSeconds(backoff, "a", 8, t),
              ::testing::ElementsAre(0, 10, 20, 40, 80, 160, 300, 300));
  EXPECT_EQ(backoff.Current("a"), absl::Minutes(5));
}

TEST(RestartBackoffTest, ResetsAfterRunningTenMinutes) {
  RestartBackoff backoff;
  absl::Time t = FakeClock::DefaultStart();
  RestartDelaysSeconds(backoff, "a", 7, t);
  ASSERT_EQ(backoff.Current("a"), absl::Minutes(5));

  // Just short of 10 minutes: still backing off.
  EXPECT_EQ(backoff.OnExit("a", t, t + absl::Minutes(10) - absl::Seconds(1)),
            absl::Minutes(5));
  t += absl::Minutes(20);
  // Exactly 10 minutes: reset, restarted at once.
  EXPECT_EQ(backoff.OnExit("a", t, t + absl::Minutes(10)), absl::ZeroDuration());
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(10));
  t += absl::Minutes(20);
  EXPECT_EQ(backoff.OnExit("a", t, t + absl::Seconds(1)), absl::Seconds(10));
}

TEST(RestartBackoffTest, KeysAreIndependentAndForgetResets) {
  RestartBackoff backoff;
  const absl::Time t = FakeClock::DefaultStart();
  const absl::Time end = t + absl::Seconds(1);
  backoff.OnExit("a", t, end);
  backoff.OnExit("a", t, end);
  EXPECT_EQ(backoff.OnExit("b", t, end), absl::ZeroDuration());
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(20));

  backoff.Forget("a");
  EXPECT_EQ(backoff.Current("a"), absl::ZeroDuration());
  EXPECT_EQ(backoff.OnExit("a", t, end), absl::ZeroDuration());
  EXPECT_EQ(backoff.Current("b"), absl::Seconds(10));
}

TEST(RestartBackoffTest, FinishBeforeStartCountsAsShortRun) {
  RestartBackoff backoff;
  const absl::Time t = FakeClock::DefaultStart();
  backoff.OnExit("a", t, t);
  EXPECT_EQ(backoff.OnExit("a", t + absl::Hours(1), t), absl::Seconds(10));
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(20));
}

TEST(RestartBackoffTest, CustomOptions) {
  RestartBackoff::Options options;
  options.initial = absl::Seconds(1);
  options.max = absl::Seconds(3);
  options.reset_after = absl::Seconds(30);
  RestartBackoff backoff(options);
  absl::Time t = FakeClock::DefaultStart();
  EXPECT_THAT(RestartDelaysSeconds(backoff, "a", 5, t),
              ::testing::ElementsAre(0, 1, 2, 3, 3));
  EXPECT_EQ(backoff.OnExit("a", t, t + absl::Seconds(30)), absl::ZeroDuration());
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(1));
  // Many doublings saturate at max rather than overflowing.
  for (int i = 0; i < 200; ++i) backoff.OnExit("a", t, t);
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(3));
}

}  // namespace
}  // namespace berth::controller
