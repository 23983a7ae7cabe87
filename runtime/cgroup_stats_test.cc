#include "runtime/cgroup_stats.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
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

TEST(CgroupStatsReaderTest, ReadsAsReadCgroupStatsAndKeepsFilesWithinItsBudget) {
  berth::testing::TempDir root;
  CgroupLayout l;
  l.cpu = root.path() + "/cpu,cpuacct";
  l.memory = root.path() + "/memory";
  for (const char* c : {"a", "b"}) {
    Write(absl::StrCat(l.cpu, "/", c, "/cpuacct.usage"), "2500000000\n");
    Write(absl::StrCat(l.memory, "/", c, "/memory.usage_in_bytes"), "1000\n");
    Write(absl::StrCat(l.memory, "/", c, "/memory.stat"), "total_inactive_file 400\n");
  }
  CgroupStatsReader reader(l, /*max_open_files=*/4);
  absl::StatusOr<CgroupStats> a = reader.Read("/a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_DOUBLE_EQ(a->cpu_usage_seconds.value(), 2.5);
  EXPECT_EQ(a->memory_usage_bytes.value(), 1000u);
  EXPECT_EQ(a->memory_working_set_bytes.value(), 600u);
  EXPECT_FALSE(a->pids.has_value());
  EXPECT_EQ(reader.open_files(), 3u);
  // Beyond the budget a file is read and closed.
  absl::StatusOr<CgroupStats> b = reader.Read("/b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->memory_working_set_bytes.value(), 600u);
  EXPECT_EQ(reader.open_files(), 4u);
  // A kept file is read again from its start: new values, shorter text.
  Write(l.cpu + "/a/cpuacct.usage", "5\n");
  Write(l.memory + "/a/memory.stat", "total_inactive_file 1\n");
  a = reader.Read("/a");
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(a->cpu_usage_seconds.value(), 5e-9);
  EXPECT_EQ(a->memory_working_set_bytes.value(), 999u);
  EXPECT_TRUE(absl::IsNotFound(reader.Read("/absent").status()));

  reader.KeepOnly({"/b"});
  EXPECT_EQ(reader.open_files(), 1u);
  reader.KeepOnly({});
  EXPECT_EQ(reader.open_files(), 0u);
}

// A real cgroup (v1 cpuacct or v2): a kept file follows the counter as the
// cgroup's process runs, and a cgroup removed and made again under the same
// path is read afresh (the kept file of the old one fails with ENODEV).
TEST(CgroupStatsReaderTest, FollowsARealCgroupAndOneMadeAgain) {
  const CgroupLayout& host = CgroupLayout::Host();
  if (host.cpu.empty()) GTEST_SKIP() << "no cpu accounting controller mounted";
  const std::string path = absl::StrCat("/berth-cgroup-stats-test-", getpid());
  const std::string dir = host.cpu + path;
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  absl::Cleanup remove = [&] { rmdir(dir.c_str()); };
  CgroupStatsReader reader(host);
  absl::StatusOr<CgroupStats> before = reader.Read(path, kCgroupCpu);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->cpu_usage_seconds.value(), 0.0);
  EXPECT_EQ(reader.open_files(), 1u);

  // A child that spins ~50 ms of CPU in the cgroup, then exits.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string pid = std::to_string(getpid());
    const int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY);
    if (fd < 0 || write(fd, pid.data(), pid.size()) < 0) _exit(1);
    close(fd);
    timespec start, now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    do {
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 50000000L);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  absl::StatusOr<CgroupStats> after = reader.Read(path, kCgroupCpu);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GE(after->cpu_usage_seconds.value(), 0.04);
  EXPECT_EQ(reader.open_files(), 1u);

  ASSERT_EQ(rmdir(dir.c_str()), 0);
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  absl::StatusOr<CgroupStats> again = reader.Read(path, kCgroupCpu);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->cpu_usage_seconds.value(), 0.0);
  EXPECT_EQ(reader.open_files(), 1u);
}

}  // namespace
}  // namespace berth::runtime
