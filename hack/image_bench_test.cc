// A smoke run of hack/bench's image part with tiny settings (busybox:1 for
// the pull, 1 round, 2 containers), so that it cannot rot: it must print
// numbers and leave nothing behind.
#include "hack/image_bench.h"

#include <dirent.h>

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/registry_env.h"
#include "tests/test_env.h"

namespace berth::bench {
namespace {

using ::testing::ContainsRegex;
using ::testing::IsEmpty;

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  return out;
}

bool PositiveFinite(double v) { return std::isfinite(v) && v > 0; }

TEST(PercentileTest, NearestRank) {
  EXPECT_EQ(Percentile({}, 50), 0);
  EXPECT_EQ(Percentile({3, 1, 2}, 50), 2);
  EXPECT_EQ(Percentile({5, 1, 4, 2, 3}, 90), 5);
  EXPECT_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90), 9);
  EXPECT_EQ(Percentile({7}, 90), 7);
}

TEST(ImageBenchSmokeTest, PullsRunsPrintsNumbersAndLeavesNothing) {
  auto registry = testing::RegistryEnv::Start();
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_TRUE((*registry)->PushTestImages({"busybox"}).ok());
  const std::string ref = (*registry)->host() + "/busybox:1";
  testing::TestWorld world;
  const std::string work = world.dir() + "/bench";
  ASSERT_TRUE(runtime::MakeDirs(work).ok());

  PullBenchOptions po;
  po.registry = (*registry)->host();
  po.reference = ref;
  po.work_dir = work;
  po.rounds = 1;
  auto pull = BenchPull(po);
  ASSERT_TRUE(pull.ok()) << pull.status();
  ASSERT_EQ(pull->rounds.size(), 1u);
  EXPECT_EQ(pull->layers, 1);
  EXPECT_GT(pull->bytes, 100000);  // busybox-static, compressed
  for (double s :
       {pull->rounds[0].pull_s, pull->rounds[0].pull_unpack_s, pull->rounds[0].skopeo_s}) {
    EXPECT_TRUE(PositiveFinite(s)) << s;
  }
  const std::string pull_text = FormatPull(*pull);
  for (const char* row : {"skopeo copy", "berth pull ", "berth pull\\+unpack"}) {
    EXPECT_THAT(pull_text, ContainsRegex(std::string(row) +
                                         " +[0-9]+\\.[0-9]+ s +[0-9]+\\.[0-9] +[0-9]+\\.[0-9]+x"));
  }

  RunBenchOptions ro;
  ro.registry = po.registry;
  ro.reference = ref;
  ro.work_dir = work;
  ro.runtime = world.RuntimeOptions();
  ro.n = 2;
  auto run = BenchTimeToRunning(ro);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->berth_ms.size(), 2u);
  ASSERT_EQ(run->raw_ms.size(), 2u);
  for (double ms : run->berth_ms) EXPECT_TRUE(PositiveFinite(ms)) << ms;
  for (double ms : run->raw_ms) EXPECT_TRUE(PositiveFinite(ms)) << ms;
  const std::string run_text = FormatRun(*run);
  for (const char* row : {"raw runc", "berth"}) {
    EXPECT_THAT(run_text,
                ContainsRegex(std::string(row) + " +[0-9]+\\.[0-9] ms +[0-9]+\\.[0-9] ms"));
  }
  EXPECT_THAT(run_text, ContainsRegex("ratio berth/raw: [0-9]+\\.[0-9]+x"));

  // Nothing left: no containers, mounts, cgroups or processes of the world,
  // no raw runc containers (their processes would still run /bin/sleep from
  // the work dir's copy), and no files.
  EXPECT_THAT(world.Leaks(), IsEmpty());
  EXPECT_THAT(testing::ProcessesMentioning(work), IsEmpty());
  EXPECT_THAT(Entries(work), IsEmpty());
}

}  // namespace
}  // namespace berth::bench
