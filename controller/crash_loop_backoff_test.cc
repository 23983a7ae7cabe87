#include "controller/crash_loop_backoff.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "controller/queue/clock.h"

namespace berth::controller {
namespace {

// Restarts after runs of one second each.
std::vector<int64_t> RestartDelaysSeconds(RestartBackoff& backoff, const std::string& key, int n,
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
  EXPECT_EQ(backoff.OnExit("a", t, t + absl::Minutes(10) - absl::Seconds(1)), absl::Minutes(5));
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
  EXPECT_THAT(RestartDelaysSeconds(backoff, "a", 5, t), ::testing::ElementsAre(0, 1, 2, 3, 3));
  EXPECT_EQ(backoff.OnExit("a", t, t + absl::Seconds(30)), absl::ZeroDuration());
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(1));
  // Many doublings saturate at max rather than overflowing.
  for (int i = 0; i < 200; ++i) backoff.OnExit("a", t, t);
  EXPECT_EQ(backoff.Current("a"), absl::Seconds(3));
}

}  // namespace
}  // namespace berth::controller
