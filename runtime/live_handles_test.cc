#include "runtime/live_handles.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"

namespace berth::runtime {
namespace {

// A child that sleeps until killed, reaped by the test.
class Child {
 public:
  Child() {
    pid_ = fork();
    if (pid_ == 0) {
      pause();
      _exit(0);
    }
  }
  ~Child() { Kill(); }
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

TEST(LiveHandlesTest, AnswersAsTheProcessTableWithOnePidfd) {
  Child child;
  ASSERT_GT(child.pid(), 0);
  const pid_t pid = child.pid();
  const uint64_t start = ProcessStartTime(pid);
  ASSERT_NE(start, 0u);
  LiveHandles live(8);
  EXPECT_TRUE(live.Alive("a", pid, start));
  EXPECT_TRUE(live.Alive("a", pid, start));
  EXPECT_EQ(live.open_fds(), 1u);
  // Another start time for the same pid is another process: not this one.
  EXPECT_FALSE(live.Alive("b", pid, start + 1));
  child.Kill();
  EXPECT_FALSE(live.Alive("a", pid, start));
  EXPECT_FALSE(live.Alive("a", pid, start));  // and stays so
  EXPECT_EQ(live.open_fds(), 0u);
  EXPECT_FALSE(live.Alive("c", 0, 0));
}

TEST(LiveHandlesTest, BeyondItsBudgetAnswersByPath) {
  Child child;
  const uint64_t start = ProcessStartTime(child.pid());
  LiveHandles live(0);
  EXPECT_TRUE(live.Alive("a", child.pid(), start));
  EXPECT_EQ(live.open_fds(), 0u);
  child.Kill();
  EXPECT_FALSE(live.Alive("a", child.pid(), start));
}

TEST(LiveHandlesTest, ForgetAndRetainClose) {
  Child one;
  Child two;
  LiveHandles live(8);
  EXPECT_TRUE(live.Alive("one", one.pid(), ProcessStartTime(one.pid())));
  EXPECT_TRUE(live.Alive("two", two.pid(), ProcessStartTime(two.pid())));
  EXPECT_EQ(live.open_fds(), 2u);
  live.Retain({"two"});
  EXPECT_EQ(live.open_fds(), 1u);
  live.Forget("two");
  EXPECT_EQ(live.open_fds(), 0u);
  live.Forget("never");
}

// The host's freezer (cgroup v1's freezer hierarchy or the unified one),
// on an empty cgroup of the test's own.
TEST(LiveHandlesTest, FrozenFollowsTheFreezerAndSurvivesTheCgroupsRemoval) {
  const std::string cgroup = absl::StrCat("/berth-live-handles-test-", getpid());
  const std::string file = FreezerStatePath(cgroup);
  if (file.empty()) GTEST_SKIP() << "no freezer mounted";
  const std::string dir = file.substr(0, file.rfind('/'));
  if (mkdir(dir.c_str(), 0755) != 0) GTEST_SKIP() << "cannot make " << dir;
  const bool v1 = file.size() >= 13 && file.substr(file.size() - 13) == "freezer.state";
  auto set = [&](bool frozen) {
    std::ofstream(file) << (v1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0"));
  };
  LiveHandles live(8);
  EXPECT_FALSE(live.Frozen("a", cgroup));
  EXPECT_EQ(live.open_fds(), 1u);
  set(true);
  EXPECT_TRUE(live.Frozen("a", cgroup));
  set(false);
  EXPECT_FALSE(live.Frozen("a", cgroup));
  EXPECT_EQ(live.open_fds(), 1u);
  // An open file does not keep the cgroup; read after, it is closed.
  ASSERT_EQ(rmdir(dir.c_str()), 0);
  EXPECT_FALSE(live.Frozen("a", cgroup));
  EXPECT_EQ(live.open_fds(), 0u);
  EXPECT_FALSE(live.Frozen("b", "/"));
}

}  // namespace
}  // namespace berth::runtime
