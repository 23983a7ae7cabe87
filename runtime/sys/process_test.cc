#include "runtime/sys/process.h"
#include "runtime/sys/small_file.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace
}  // namespace berth::runtime
