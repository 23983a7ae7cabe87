// berthd with its default flags serves /metrics, /healthz and /readyz on
// 127.0.0.1:9321. The only test that takes that port: ctest runs it under
// the RESOURCE_LOCK "berthd_metrics_port" (every other test's berthd
// listens on a port of its own).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/http_get.h"
#include "tests/processes.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::HttpGet;
using ::berth::testing::HttpResponse;
using ::berth::testing::SampleValue;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(MetricsDefaultPortE2eTest, ServesOn127001Port9321ByDefault) {
  berth::testing::TestWorld world;
  const std::string manifests = world.dir() + "/manifests";
  ASSERT_TRUE(runtime::MakeDirs(manifests).ok());
  berth::testing::OwnedProcess berthd;
  // Only the directories differ from the defaults; --metrics-addr is not
  // given.
  ASSERT_TRUE(berthd
                  .Start({BERTH_BERTHD_PATH, "--manifests-dir=" + manifests,
                          "--state-dir=" + world.berth_state_dir(), "--run-dir=" + world.run_dir(),
                          "--cgroup-parent=" + world.cgroup_parent(),
                          "--monitor=" BERTH_MONITOR_PATH, berth::testing::NoCniFlag(world)},
                         world.dir() + "/berthd.log")
                  .ok());
  HttpResponse ready;
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = HttpGet(9321, "/readyz");
        return ready.code == 200;
      },
      absl::Seconds(20)))
      << ready.code << " " << ready.body << "\n"
      << berthd.Log();
  EXPECT_THAT(berthd.Log(),
              HasSubstr("metrics and health on http://127.0.0.1:9321 (/metrics, /healthz, "
                        "/readyz)"));
  EXPECT_EQ(HttpGet(9321, "/healthz").code, 200);
  HttpResponse metrics = HttpGet(9321, "/metrics");
  EXPECT_EQ(metrics.code, 200);
  EXPECT_EQ(SampleValue(metrics.body, "berth_containers{phase=\"Running\"}"), 0);
  const int status = berthd.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(world.Leaks(), IsEmpty());
}

}  // namespace
}  // namespace berth
