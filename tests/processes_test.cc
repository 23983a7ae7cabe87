// OwnedProcess: what tests rely on when they start a helper process.
#include "tests/processes.h"

#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "gtest/gtest.h"
#include "tests/test_env.h"

namespace berth::testing {
namespace {

// Whether `pid`, a child of this process, ended by `signal` within 10 s
// (reaped here).
bool EndsBySignal(pid_t pid, int signal) {
  int status = 0;
  const bool ended =
      WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, absl::Seconds(10));
  return ended && WIFSIGNALED(status) && WTERMSIG(status) == signal;
}

TEST(OwnedProcessTest, AParentDeathSignalEndsTheProcessWithTheThreadThatStartedIt) {
  TestWorld world;
  pid_t with = -1, without = -1;
  {
    OwnedProcess a, b;
    std::thread([&] {
      ASSERT_TRUE(a.Start({"/bin/sleep", "100"}, world.dir() + "/a.log", SIGTERM).ok());
      ASSERT_TRUE(b.Start({"/bin/sleep", "100"}, world.dir() + "/b.log").ok());
      with = a.pid();
      without = b.pid();
    }).join();
    ASSERT_GT(with, 0);
    ASSERT_GT(without, 0);
    EXPECT_TRUE(EndsBySignal(with, SIGTERM)) << "the starter's thread ended, the process did not";
    // Without one the process stays until stopped.
    EXPECT_EQ(waitpid(without, nullptr, WNOHANG), 0);
    EXPECT_EQ(kill(without, 0), 0);
    EXPECT_TRUE(WIFSIGNALED(b.Stop(SIGKILL)));
    a.Forget();  // reaped above
  }
}

TEST(OwnedProcessTest, AParentDeathSignalKeepsTheLogAndArguments) {
  TestWorld world;
  OwnedProcess p;
  ASSERT_TRUE(
      p.Start({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, world.dir() + "/p.log", SIGTERM)
          .ok());
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(p.pid(), &status, WNOHANG) == p.pid(); },
                      absl::Seconds(10)));
  p.Forget();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(p.Log(), "out\nerr\n");
}

}  // namespace
}  // namespace berth::testing
