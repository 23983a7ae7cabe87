#include "runtime/exec/process_tree.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

extern char** environ;

namespace berth::runtime {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Starts `script` under /bin/sh as the leader of a new session, as runc
// starts an exec'd process.
pid_t SpawnSessionLeader(const std::string& script) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> argv = {"/bin/sh", "-c", script};
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, &attr, cargv.data(), environ), 0);
  posix_spawnattr_destroy(&attr);
  return pid;
}

// The pids written, one per line, to `file` once it has `n` of them.
std::vector<pid_t> WaitForPids(const std::string& file, size_t n) {
  std::vector<pid_t> pids;
  for (int i = 0; i < 500 && pids.size() < n; ++i) {
    pids.clear();
    absl::StatusOr<std::string> content = ReadFile(file);
    if (content.ok()) {
      for (absl::string_view line : absl::StrSplit(*content, '\n', absl::SkipEmpty())) {
        pid_t p = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &p)) pids.push_back(p);
      }
    }
    if (pids.size() < n) absl::SleepFor(absl::Milliseconds(10));
  }
  return pids;
}

TEST(ProcessTreeTest, FindsChildrenOrphansAndNewSessionsThenKillsThemAll) {
  testing::TempDir dir;
  const std::string pids = dir.path() + "/pids";
  // A plain child, an orphan (its parent subshell exits at once: it stays
  // in the session), and a child that starts a session of its own.
  const pid_t root =
      SpawnSessionLeader(absl::StrCat("sleep 1000 & echo $! >>", pids, "; (sleep 1000 & echo $! >>",
                                      pids, "); setsid sleep 1000 & echo $! >>", pids, "; wait"));
  ASSERT_GT(root, 0);
  const uint64_t start = ProcessStartTime(root);
  std::vector<pid_t> started = WaitForPids(pids, 3);
  ASSERT_THAT(started, SizeIs(3));
  // setsid may fork before it execs sleep: give it time to settle.
  absl::SleepFor(absl::Milliseconds(100));
  std::vector<pid_t> tree = ProcessTree(root, start);
  EXPECT_THAT(tree, Contains(root));
  for (pid_t p : started) {
    // `setsid` may have forked: the sleep is then a child of the recorded pid.
    EXPECT_TRUE(std::find(tree.begin(), tree.end(), p) != tree.end() || ProcessStartTime(p) == 0)
        << p;
  }
  EXPECT_GE(tree.size(), 4u);

  ASSERT_TRUE(KillProcessTree(root, start, absl::Seconds(5)).ok());
  int status = 0;
  ASSERT_EQ(waitpid(root, &status, 0), root);
  EXPECT_TRUE(WIFSIGNALED(status));
  for (pid_t p : tree) EXPECT_EQ(ProcessStartTime(p), 0u) << p << " still alive";
  EXPECT_THAT(ProcessTree(root, start), IsEmpty());
}

TEST(ProcessTreeTest, AReusedPidIsLeftAlone) {
  const pid_t root = SpawnSessionLeader("sleep 1000");
  ASSERT_GT(root, 0);
  const uint64_t start = ProcessStartTime(root);
  EXPECT_THAT(ProcessTree(root, start + 1), IsEmpty());
  EXPECT_THAT(ProcessTree(root, start), Contains(root));
  ASSERT_TRUE(KillProcessTree(root, start, absl::Seconds(5)).ok());
  waitpid(root, nullptr, 0);
}

}  // namespace
}  // namespace berth::runtime
