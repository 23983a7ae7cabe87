#include "runtime/sys/process.h"
#include "runtime/sys/small_file.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/temp_dir.h"

namespace berth::runtime {
namespace {

using ::testing::HasSubstr;

TEST(ProcessTest, RunCommandCapturesOutputAndExitCode) {
  auto r = RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}, absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_THAT(r->output, HasSubstr("out"));
  EXPECT_THAT(r->output, HasSubstr("err"));
  absl::Status s = RunCommandOk({"/bin/sh", "-c", "echo nope; exit 3"}, absl::Seconds(10));
  EXPECT_THAT(std::string(s.message()), HasSubstr("exit status 3"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("nope"));
}

TEST(ProcessTest, SpawnedProgramsGetDefaultSignals) {
  // Ignored and blocked here, default there.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  auto previous = signal(SIGPIPE, SIG_IGN);
  auto r =
      RunCommand({"/bin/sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status"}, absl::Seconds(10));
  signal(SIGPIPE, previous);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->output, HasSubstr("SigBlk:\t0000000000000000"));
  // The shell itself may ignore some signals, but not SIGPIPE (bit 12).
  size_t at = r->output.find("SigIgn:\t");
  ASSERT_NE(at, std::string::npos);
  uint64_t ignored = std::stoull(r->output.substr(at + 8, 16), nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << r->output;
}

TEST(ProcessTest, RunCommandFeedsStdinAndRefusesLargeInput) {
  auto r = RunCommand({"/bin/cat"}, absl::Seconds(10), "server.example\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, "server.example\n");
  auto none = RunCommand({"/bin/cat"}, absl::Seconds(10));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->output, "") << "stdin is /dev/null";
  auto large = RunCommand({"/bin/cat"}, absl::Seconds(10), std::string(65537, 'x'));
  EXPECT_EQ(large.status().code(), absl::StatusCode::kInvalidArgument) << large.status();
}

TEST(ProcessTest, FindExecutableSearchesPathAndRefusesPaths) {
  EXPECT_EQ(FindExecutable("sh").empty(), false);
  EXPECT_EQ(FindExecutable("no-such-program-berth"), "");
  EXPECT_EQ(FindExecutable("../bin/sh"), "");
  EXPECT_EQ(FindExecutable(""), "");
}

TEST(ProcessTest, RunCommandKillsOnTimeout) {
  auto r = RunCommand({"/bin/sleep", "30"}, absl::Milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_FALSE(RunCommand({"/nonexistent/program"}, absl::Seconds(1)).ok());
}

TEST(ProcessTest, PidFdSignalsAndWaits) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  uint64_t start = ProcessStartTime(child);
  ASSERT_NE(start, 0u);
  EXPECT_TRUE(ProcessIsAlive(child, start));
  EXPECT_FALSE(ProcessIsAlive(child, start + 1)) << "a different start time is another process";
  EXPECT_TRUE(absl::IsNotFound(OpenPidFd(child, start + 1).status()));
  auto fd = OpenPidFd(child, start);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_FALSE(WaitPidFd(*fd, absl::Milliseconds(20)));
  ASSERT_TRUE(SignalPidFd(*fd, SIGKILL).ok());
  EXPECT_TRUE(WaitPidFd(*fd, absl::Seconds(5)));
  EXPECT_FALSE(ProcessIsAlive(child, start)) << "a zombie is not alive";
  int status;
  waitpid(child, &status, 0);
}

TEST(ProcessTest, FilesAndTrees) {
  testing::TempDir tmp{"berth-proc"};
  const std::string& dir = tmp.path();
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c").ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/a/b/c/f", "hello").ok());
  EXPECT_EQ(*ReadFile(dir + "/a/b/c/f"), "hello");
  EXPECT_EQ(access((dir + "/a/b/c/f.tmp").c_str(), F_OK), -1);
  EXPECT_TRUE(absl::IsNotFound(ReadFile(dir + "/missing").status()));
  EXPECT_TRUE(absl::IsOutOfRange(ReadFile(dir + "/a/b/c/f", 2).status()));
  EXPECT_EQ(ReadSmallFile(dir + "/a/b/c/f"), "hello");
  EXPECT_EQ(ReadSmallFile(dir + "/a/b/c/f", 5), "hello");
  EXPECT_EQ(ReadSmallFile(dir + "/a/b/c/f", 4), std::nullopt);  // larger than allowed
  EXPECT_EQ(ReadSmallFile(dir + "/missing"), std::nullopt);
  EXPECT_EQ(ReadSmallFile(dir + "/a"), std::nullopt);  // a directory
  // A /proc file whole in one read: the same as ReadFile's.
  const std::optional<std::string> status = ReadSmallFile("/proc/self/limits");
  ASSERT_TRUE(status.has_value());
  EXPECT_THAT(*status, HasSubstr("Max open files"));
  EXPECT_GT(ProcessStartTime(getpid()), 0u);
  ASSERT_EQ(symlink("/etc", (dir + "/a/link").c_str()), 0);
  ASSERT_TRUE(RemoveTree(dir).ok());
  EXPECT_EQ(access(dir.c_str(), F_OK), -1);
  EXPECT_EQ(access("/etc/hostname", F_OK) == 0 || access("/etc", F_OK) == 0, true)
      << "RemoveTree must not follow symlinks";
  EXPECT_TRUE(RemoveTree(dir).ok()) << "missing is fine";
}

TEST(ProcessTest, MountsUnder) {
  EXPECT_TRUE(IsMountPoint("/proc"));
  EXPECT_FALSE(IsMountPoint("/proc/self"));
  EXPECT_FALSE(MountsUnder("/proc").empty());
}

// The mounts a test makes live in a private mount namespace of a child
// process (gtest's death-test fork), gone with it: nothing is mounted on the
// machine's own tree even if a check fails. The child exits 0 when every
// check holds and prints the first that does not.
bool MountChecks(const std::string& dir) {
  auto check = [](bool ok, const char* what) {
    if (!ok) std::fprintf(stderr, "check failed: %s\n", what);
    return ok;
  };
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return check(false, "a private mount namespace");
  const std::string t = dir + "/t", inner = dir + "/t/inner", file = dir + "/f",
                    src = dir + "/src", bind = dir + "/x/bind";
  if (!MakeDirs(t).ok() || !MakeDirs(src).ok() || !MakeDirs(bind).ok() ||
      !WriteFileAtomic(file, "").ok() || !WriteFileAtomic(src + "/keep", "k").ok() ||
      mount("tmpfs", t.c_str(), "tmpfs", 0, nullptr) != 0 || !MakeDirs(inner).ok() ||
      mount("tmpfs", inner.c_str(), "tmpfs", 0, nullptr) != 0 ||
      mount("/proc/self/status", file.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      mount(src.c_str(), bind.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return check(false, "the mounts are made");
  }
  std::vector<std::string> roots = MountRootsUnder(dir + "/");
  std::sort(roots.begin(), roots.end());
  const std::vector<std::string> listed = MountsUnder(dir);
  auto is_listed = [&](const std::string& m) {
    return std::find(listed.begin(), listed.end(), m) != listed.end();
  };
  return check(IsMountPoint(t) && IsMountPoint(inner) && IsMountPoint(file) &&
                   IsMountPoint(bind) && IsMountPoint(t + "/"),
               "IsMountPoint of a tmpfs, one stacked in it, a bound file, a bound directory") &&
         check(!IsMountPoint(dir) && !IsMountPoint(src) && !IsMountPoint(src + "/keep") &&
                   !IsMountPoint(dir + "/missing"),
               "IsMountPoint of what is not mounted") &&
         // Not into a mount: `inner` goes with `t`.
         check(roots == std::vector<std::string>{file, t, bind}, "MountRootsUnder finds all three") &&
         check(std::all_of(roots.begin(), roots.end(), is_listed) && is_listed(inner),
               "the mount table lists what the walk found, and the stacked one") &&
         check(MountRootsUnder(t) == std::vector<std::string>{t}, "a mount point is its own") &&
         check(MountRootsUnder(src).empty() && MountRootsUnder(dir + "/missing").empty() &&
                   MountRootsUnder(src + "/keep").empty(),
               "nothing under a plain tree, a missing path, a file") &&
         // A bind mount of the same file system: RemoveTree must refuse, not
         // delete the bound directory's files through it.
         check(absl::IsFailedPrecondition(RemoveTree(dir + "/x")),
               "RemoveTree refuses a tree with a mount in it") &&
         check(access((src + "/keep").c_str(), F_OK) == 0, "the bound directory's file is kept") &&
         check(umount2(bind.c_str(), MNT_DETACH) == 0 && umount2(file.c_str(), MNT_DETACH) == 0 &&
                   umount2(t.c_str(), MNT_DETACH) == 0,
               "unmounted") &&
         check(MountRootsUnder(dir).empty() && RemoveTree(dir + "/x").ok(),
               "nothing left, and the tree goes");
}

TEST(ProcessTest, MountRootsAreFoundWithoutTheMountTable) {
  if (geteuid() != 0) GTEST_SKIP() << "mounts need root";
  testing::TempDir tmp{"berth-mounts"};
  EXPECT_EXIT(_exit(MountChecks(tmp.path()) ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace berth::runtime
