#include "controller/metrics/health.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::metrics {
namespace {

using ::testing::HasSubstr;

TEST(HealthChecksTest, AllPassing) {
  HealthChecks h;
  h.Add("relist", [] { return absl::OkStatus(); });
  h.Add("workers", [] { return absl::OkStatus(); });
  HealthChecks::Result r = h.Run();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.body, "[+]relist ok\n[+]workers ok\nok\n");
}

TEST(HealthChecksTest, OneFailing) {
  HealthChecks h;
  h.Add("relist", [] { return absl::UnavailableError("last seen 5m ago"); });
  h.Add("workers", [] { return absl::OkStatus(); });
  HealthChecks::Result r = h.Run();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.body, "[-]relist failed: last seen 5m ago\n[+]workers ok\nrelist check failed\n");
}

TEST(HealthChecksTest, RelistThreshold) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_TRUE(CheckRelist(now - absl::Seconds(10), now, absl::Seconds(10)).ok());
  EXPECT_TRUE(CheckRelist(now - absl::Minutes(3), now, absl::Seconds(10)).ok());
  absl::Status s = CheckRelist(now - absl::Minutes(3) - absl::Seconds(1), now, absl::Seconds(10));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("relist was last seen active 3m1s ago; threshold is 3m"));
  // A long relist period stretches it: three periods.
  EXPECT_TRUE(CheckRelist(now - absl::Minutes(5), now, absl::Minutes(2)).ok());
  EXPECT_FALSE(CheckRelist(now - absl::Minutes(7), now, absl::Minutes(2)).ok());
  EXPECT_FALSE(CheckRelist(absl::InfinitePast(), now, absl::Seconds(10)).ok());
}

TEST(HealthChecksTest, WorkersThreshold) {
  EXPECT_TRUE(CheckWorkers(0).ok());
  EXPECT_TRUE(CheckWorkers(15 * 60).ok());
  absl::Status s = CheckWorkers(15 * 60 + 2);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("a reconcile has been running for 15m2s; threshold is 15m"));
}

TEST(ReadinessTest, StartingThenSyncedThenStopping) {
  Readiness r;
  EXPECT_EQ(r.Check().message(), "starting");
  r.NotReady("recovering the node's containers");
  EXPECT_EQ(r.Check().message(), "recovering the node's containers");
  bool synced = false;
  r.ReadyWhen([&] {
    return synced ? absl::OkStatus() : absl::UnavailableError("NodeContainers not listed yet");
  });
  EXPECT_TRUE(absl::IsUnavailable(r.Check()));
  EXPECT_EQ(r.Check().message(), "NodeContainers not listed yet");
  synced = true;
  EXPECT_TRUE(r.Check().ok());
  r.NotReady("shutting down");
  EXPECT_EQ(r.Check().message(), "shutting down");
}

}  // namespace
}  // namespace berth::metrics
