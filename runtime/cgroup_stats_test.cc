#include "runtime/cgroup_stats.h"

#include <fstream>
#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::runtime {
namespace {

// As on this kind of machine: v1 controllers, plus the v2 mount of a
// hybrid layout.
constexpr char kV1MountInfo[] =
    "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
    "27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "31 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "32 25 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";

constexpr char kV2MountInfo[] =
    "22 1 0:21 / /proc rw - proc proc rw\n"
    "35 24 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

void Write(const std::string& path, const std::string& content) {
  ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/')), 0755).ok()) << path;
  std::ofstream(path) << content;
}

TEST(CgroupLayoutTest, FindsV1Controllers) {
  CgroupLayout l = CgroupLayout::FromMountInfo(kV1MountInfo);
  EXPECT_FALSE(l.unified);
  EXPECT_EQ(l.cpu, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.pids, "/sys/fs/cgroup/pids");
}

TEST(CgroupLayoutTest, FindsTheUnifiedHierarchy) {
  CgroupLayout l = CgroupLayout::FromMountInfo(kV2MountInfo);
  EXPECT_TRUE(l.unified);
  EXPECT_EQ(l.cpu, "/sys/fs/cgroup");
  EXPECT_EQ(l.memory, "/sys/fs/cgroup");
  EXPECT_EQ(l.pids, "/sys/fs/cgroup");
}

TEST(CgroupLayoutTest, NoCgroupsMounted) {
  CgroupLayout l = CgroupLayout::FromMountInfo("22 1 0:21 / /proc rw - proc proc rw\n");
  EXPECT_TRUE(l.cpu.empty() && l.memory.empty() && l.pids.empty());
  EXPECT_TRUE(absl::IsNotFound(ReadCgroupStats(l, "/berth/web").status()));
}

TEST(CgroupStatsTest, ReadsV1Files) {
  berth::testing::TempDir root;
  CgroupLayout l;
  l.cpu = root.path() + "/cpu,cpuacct";
  l.memory = root.path() + "/memory";
  l.pids = root.path() + "/pids";
  Write(l.cpu + "/berth/web/cpuacct.usage", "2500000000\n");
  Write(l.memory + "/berth/web/memory.usage_in_bytes", "10485760\n");
  Write(l.memory + "/berth/web/memory.stat",
        "cache 4096\nrss 8192\ninactive_file 999999999\ntotal_cache 4096\n"
        "total_inactive_file 3145728\ntotal_active_file 1024\n");
  Write(l.pids + "/berth/web/pids.current", "3\n");

  absl::StatusOr<CgroupStats> s = ReadCgroupStats(l, "/berth/web");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->cpu_usage_seconds.value(), 2.5);
  EXPECT_EQ(s->memory_usage_bytes.value(), 10485760u);
  // usage - total_inactive_file (the hierarchy's, not the cgroup's own).
  EXPECT_EQ(s->memory_working_set_bytes.value(), 10485760u - 3145728u);
  EXPECT_EQ(s->pids.value(), 3u);

  absl::StatusOr<CgroupStats> cpu_only = ReadCgroupStats(l, "/berth/web", kCgroupCpu);
  ASSERT_TRUE(cpu_only.ok());
  EXPECT_TRUE(cpu_only->cpu_usage_seconds.has_value());
  EXPECT_FALSE(cpu_only->memory_usage_bytes.has_value());
  EXPECT_FALSE(cpu_only->pids.has_value());
}

TEST(CgroupStatsTest, ReadsV2Files) {
  berth::testing::TempDir root;
  CgroupLayout l = CgroupLayout::FromMountInfo(kV2MountInfo);
  l.cpu = l.memory = l.pids = root.path();
  Write(root.path() + "/berth/web/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n");
  Write(root.path() + "/berth/web/memory.current", "4096000\n");
  Write(root.path() + "/berth/web/memory.stat", "anon 1000\nactive_file 5\ninactive_file 96000\n");
  Write(root.path() + "/berth/web/pids.current", "1\n");

  absl::StatusOr<CgroupStats> s = ReadCgroupStats(l, "berth/web");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->cpu_usage_seconds.value(), 1.5);
  EXPECT_EQ(s->memory_usage_bytes.value(), 4096000u);
  EXPECT_EQ(s->memory_working_set_bytes.value(), 4000000u);
  EXPECT_EQ(s->pids.value(), 1u);
}

TEST(CgroupStatsTest, WorkingSetIsZeroWhenTheCacheIsLarger) {
  berth::testing::TempDir root;
  CgroupLayout l;
  l.memory = root.path();
  Write(root.path() + "/c/memory.usage_in_bytes", "100\n");
  Write(root.path() + "/c/memory.stat", "total_inactive_file 200\n");
  absl::StatusOr<CgroupStats> s = ReadCgroupStats(l, "/c");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->memory_working_set_bytes.value(), 0u);
  EXPECT_FALSE(s->cpu_usage_seconds.has_value());
}

TEST(CgroupStatsTest, PartialAndMissingCgroups) {
  berth::testing::TempDir root;
  CgroupLayout l;
  l.cpu = root.path() + "/cpu";
  l.memory = root.path() + "/memory";
  // Garbage is not a value; a missing memory.stat leaves the working set unset.
  Write(l.cpu + "/c/cpuacct.usage", "not a number\n");
  Write(l.memory + "/c/memory.usage_in_bytes", "77\n");
  absl::StatusOr<CgroupStats> s = ReadCgroupStats(l, "/c");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->cpu_usage_seconds.has_value());
  EXPECT_EQ(s->memory_usage_bytes.value(), 77u);
  EXPECT_FALSE(s->memory_working_set_bytes.has_value());

  absl::StatusOr<CgroupStats> gone = ReadCgroupStats(l, "/absent");
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
}

// The real hierarchy: this process's own memory cgroup (v1) or its unified
// cgroup (v2), as /proc/self/cgroup names it.
TEST(CgroupStatsTest, ReadsThisProcessCgroupOnTheHost) {
  const CgroupLayout& host = CgroupLayout::Host();
  if (host.memory.empty()) GTEST_SKIP() << "no memory controller mounted";
  absl::StatusOr<std::string> self = ReadFile("/proc/self/cgroup");
  ASSERT_TRUE(self.ok());
  std::string path;
  for (absl::string_view line : absl::StrSplit(*self, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    if (host.unified ? f[1].empty() : f[1] == "memory") path = f[2];
  }
  ASSERT_FALSE(path.empty()) << *self;
  absl::StatusOr<CgroupStats> s = ReadCgroupStats(host, path, kCgroupMemory);
  ASSERT_TRUE(s.ok()) << path << ": " << s.status();
  EXPECT_GT(s->memory_usage_bytes.value(), 0u);
  EXPECT_LE(s->memory_working_set_bytes.value(), s->memory_usage_bytes.value());
}

}  // namespace
}  // namespace berth::runtime
