// OwnedProcess: what tests rely on when they start a helper process.
#include "tests/processes.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/test_env.h"

namespace berth::testing {
namespace {

// Whether `pid` runs: it exists and is no zombie (a reparented process may
// wait to be reaped by whatever the machine's PID 1 is).
bool Runs(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' &&
         line[close + 2] != 'X';
}

// A test process that dies abruptly: what it started with a parent-death
// signal gets the signal and ends; what it started without one stays.
TEST(OwnedProcessTest, AParentDeathSignalEndsTheProcessWhenTheTestDies) {
  TestWorld world;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t test = fork();
  ASSERT_GE(test, 0);
  if (test == 0) {  // the "test": starts both, says their pids, dies
    close(fds[0]);
    OwnedProcess* with = new OwnedProcess;
    OwnedProcess* without = new OwnedProcess;
    if (!with->Start({"/bin/sleep", "100"}, world.dir() + "/with.log", SIGTERM).ok() ||
        !without->Start({"/bin/sleep", "100"}, world.dir() + "/without.log").ok()) {
      _exit(1);
    }
    const pid_t pids[2] = {with->pid(), without->pid()};
    if (write(fds[1], pids, sizeof pids) != static_cast<ssize_t>(sizeof pids)) _exit(1);
    _exit(0);  // no destructor runs: as a crash
  }
  close(fds[1]);
  pid_t pids[2] = {0, 0};
  const ssize_t n = read(fds[0], pids, sizeof pids);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(test, &status, 0), test);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof pids));
  ASSERT_GT(pids[0], 0);
  ASSERT_GT(pids[1], 0);
  // Both were reparented (to init or a subreaper), so they are not ours to
  // reap: watch their state.
  EXPECT_TRUE(WaitFor([&] { return !Runs(pids[0]); }, absl::Seconds(10)))
      << "the test died, the process it started with SIGTERM did not";
  EXPECT_TRUE(Runs(pids[1])) << "without a parent-death signal it stays";
  kill(pids[1], SIGKILL);
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

// Stop sends its signal and waits; a process that ignores it is killed
// once the timeout has passed, not before.
TEST(OwnedProcessTest, StopKillsWhatIgnoresTheSignalAfterTheTimeout) {
  TestWorld world;
  OwnedProcess p;
  // The ignored SIGTERM survives the exec: sleep ignores it too.
  ASSERT_TRUE(
      p.Start({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 60"}, world.dir() + "/p.log")
          .ok());
  ASSERT_TRUE(WaitFor([&] { return p.Log() == "ready\n"; }, absl::Seconds(10)));
  const pid_t pid = p.pid();
  const absl::Time start = absl::Now();
  const int status = p.Stop(SIGTERM, absl::Milliseconds(300));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "killed long after the timeout";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_FALSE(p.running());
  EXPECT_FALSE(Runs(pid));

  ASSERT_TRUE(p.Start({"/bin/sh", "-c", "echo ready; exec sleep 60"}, world.dir() + "/q.log").ok());
  ASSERT_TRUE(WaitFor([&] { return p.Log() == "ready\n"; }, absl::Seconds(10)));
  const int prompt = p.Stop(SIGTERM, absl::Seconds(30));
  EXPECT_TRUE(WIFSIGNALED(prompt) && WTERMSIG(prompt) == SIGTERM) << prompt;
}

}  // namespace
}  // namespace berth::testing
