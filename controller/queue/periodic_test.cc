#include "controller/queue/periodic.h"

#include <atomic>

#include "gtest/gtest.h"

namespace berth::controller {
namespace {

// Waits up to 5 s for `done`.
template <typename F>
bool WaitFor(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

TEST(PeriodicTest, RunsOncePerPeriodOfTheInjectedClock) {
  FakeClock clock;
  std::atomic<int> runs{0};
  Periodic p(
      absl::Minutes(1), [&] { ++runs; }, clock);
  p.Start();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs, 0) << "ran before its first period";
  clock.Advance(absl::Seconds(59));
  p.Wake();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs, 0);
  clock.Advance(absl::Seconds(1));
  p.Wake();
  ASSERT_TRUE(WaitFor([&] { return runs == 1; }));
  // The next period starts at the end of the run.
  clock.Advance(absl::Seconds(30));
  p.Wake();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs, 1);
  clock.Advance(absl::Seconds(30));
  p.Wake();
  ASSERT_TRUE(WaitFor([&] { return runs == 2; }));
  p.Stop();
}

TEST(PeriodicTest, RunNowRunsAtOnceAndRestartsThePeriod) {
  FakeClock clock;
  std::atomic<int> runs{0};
  Periodic p(
      absl::Minutes(1), [&] { ++runs; }, clock);
  p.Start();
  clock.Advance(absl::Seconds(50));
  p.RunNow();
  ASSERT_TRUE(WaitFor([&] { return runs == 1; }));
  clock.Advance(absl::Seconds(20));  // 70 s after Start, 20 s after the run
  p.Wake();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs, 1);
  p.Stop();
}

TEST(PeriodicTest, StopWaitsForARunAndNoRunStartsAfter) {
  std::atomic<int> runs{0};
  std::atomic<bool> in_run{false};
  Periodic p(
      absl::Milliseconds(5),
      [&] {
        in_run = true;
        absl::SleepFor(absl::Milliseconds(20));
        ++runs;
        in_run = false;
      },
      SteadyClock());
  p.Start();
  ASSERT_TRUE(WaitFor([&] { return in_run.load(); }));
  p.Stop();
  EXPECT_FALSE(in_run);
  const int after = runs;
  p.RunNow();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs, after);
  p.Stop();  // idempotent
}

TEST(PeriodicTest, StopBeforeStartAndWithoutStart) {
  Periodic never(
      absl::Seconds(1), [] { FAIL() << "ran"; }, SteadyClock());
  never.Stop();
  Periodic unstarted(
      absl::Seconds(1), [] { FAIL() << "ran"; }, SteadyClock());
}

}  // namespace
}  // namespace berth::controller
