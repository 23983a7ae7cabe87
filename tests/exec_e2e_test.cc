// RuncRuntime::Exec on real runc with a busybox container: pipes and a
// terminal, exit codes, stdin, resize, timeout and cancel, and that nothing
// an exec started outlives it.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/exec/process_tree.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "tests/test_env.h"

namespace berth::runtime {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// What a session sent, by stream.
struct Output {
  absl::Mutex mu;
  std::string out, err;
  ExecSession::OutputSink Sink() {
    return [this](ExecStream s, absl::string_view data) {
      absl::MutexLock l(&mu);
      (s == ExecStream::kStdout ? out : err).append(data.data(), data.size());
      return true;
    };
  }
  std::string Out() {
    absl::MutexLock l(&mu);
    return out;
  }
};

class ExecE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BusyboxRootfs();
    auto rt = RuncRuntime::Open(world_.RuntimeOptions());
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime_ = *std::move(rt);
  }

  void TearDown() override {
    if (runtime_ != nullptr) {
      auto all = runtime_->List();
      ASSERT_TRUE(all.ok());
      for (const auto& c : *all) EXPECT_TRUE(runtime_->Delete(c.id).ok()) << c.id;
    }
    runtime_.reset();
    EXPECT_THAT(world_.Leaks(), IsEmpty());
  }

  // A running container whose init is busybox sleep (which reaps nothing).
  void StartContainer(const std::string& id) {
    ContainerSpec s;
    s.id = id;
    s.rootfs_layers = {BusyboxRootfs()};
    s.args = {"/bin/sleep", "100000"};
    ASSERT_TRUE(runtime_->Create(s).ok());
    ASSERT_TRUE(runtime_->Start(id).ok());
  }

  // Live (not zombie) processes in the container's cgroup.
  std::vector<int> LiveProcessesIn(const std::string& id) {
    std::vector<int> live;
    for (int pid : CgroupPids(world_.cgroup_parent() + "/" + id)) {
      if (ProcessStartTime(pid) != 0) live.push_back(pid);
    }
    return live;
  }

  std::unique_ptr<ExecSession> MustExec(const std::string& id, const ExecOptions& o) {
    auto s = runtime_->Exec(id, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  TestWorld world_;
  std::unique_ptr<RuncRuntime> runtime_;
};

TEST_F(ExecE2eTest, ExitCodePassesThroughAndStreamsStaySeparate) {
  StartContainer("app");
  ExecOptions o;
  o.args = {"/bin/sh", "-c", "echo out; echo err >&2; echo $GREETING; exit 7"};
  o.env = {"GREETING=hi"};
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  Output output;
  absl::StatusOr<int> code = session->Wait(output.Sink());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(output.out, "out\nhi\n");
  EXPECT_EQ(output.err, "err\n");
  EXPECT_GT(session->pid(), 0);
}

TEST_F(ExecE2eTest, StdinReachesTheProcessAndItsEndEndsIt) {
  StartContainer("app");
  ExecOptions o;
  o.args = {"/bin/cat"};
  o.open_stdin = true;
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  std::thread input([&] {
    EXPECT_TRUE(session->WriteStdin("hello\n").ok());
    EXPECT_TRUE(session->WriteStdin(std::string(200000, 'x')).ok()) << "more than a pipe holds";
    session->CloseStdin();
    EXPECT_FALSE(session->WriteStdin("late").ok());
  });
  Output output;
  absl::StatusOr<int> code = session->Wait(output.Sink());
  input.join();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(output.out, "hello\n" + std::string(200000, 'x'));
}

TEST_F(ExecE2eTest, TerminalSessionSeesATtyAndItsResize) {
  StartContainer("app");
  ExecOptions o;
  // Each line typed prints the terminal's size.
  o.args = {"/bin/sh", "-c", "tty; while read x; do stty size; done; exit 3"};
  o.tty = true;
  o.open_stdin = true;
  o.rows = 30;
  o.cols = 100;
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  Output output;
  // runc sets the container's terminal size once the process runs (and
  // again on each SIGWINCH): type lines until `size` shows.
  const auto type_until_shown = [&](const std::string& size) {
    return WaitFor(
        [&] {
          if (absl::StrContains(output.Out(), size)) return true;
          EXPECT_TRUE(session->WriteStdin("\n").ok());
          absl::SleepFor(absl::Milliseconds(100));
          return false;
        },
        absl::Seconds(10));
  };
  std::thread input([&] {
    EXPECT_TRUE(type_until_shown("30 100"));
    EXPECT_TRUE(session->Resize(40, 120).ok());
    EXPECT_TRUE(type_until_shown("40 120"));
    session->CloseStdin();  // ^D: `read` sees the end
  });
  absl::StatusOr<int> code = session->Wait(output.Sink());
  input.join();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_THAT(output.out, HasSubstr("/dev/pts/"));
  EXPECT_THAT(output.out, HasSubstr("30 100"));
  EXPECT_THAT(output.out, HasSubstr("40 120"));
  EXPECT_EQ(output.err, "") << "a terminal has one stream";
}

TEST_F(ExecE2eTest, TimeoutKillsTheProcessAndEverythingItStarted) {
  StartContainer("app");
  const std::vector<int> before = LiveProcessesIn("app");
  ExecOptions o;
  o.args = {"/bin/sh", "-c",
            "sleep 1000 & (sleep 1000 &) ; setsid sleep 1000 & echo started; sleep 1000"};
  o.timeout = absl::Seconds(2);
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  Output output;
  const absl::Time begin = absl::Now();
  absl::StatusOr<int> code = session->Wait(output.Sink());
  const absl::Duration took = absl::Now() - begin;
  EXPECT_TRUE(absl::IsDeadlineExceeded(code.status())) << code.status();
  EXPECT_EQ(output.out, "started\n");
  EXPECT_GE(took, absl::Milliseconds(1900));
  EXPECT_LT(took, absl::Seconds(6));
  EXPECT_EQ(LiveProcessesIn("app"), before) << "only the container's init is left";
  EXPECT_TRUE(ProcessTree(session->pid(), 0).empty());
}

TEST_F(ExecE2eTest, CancelKillsTheTreeAndReturnsCancelled) {
  StartContainer("app");
  const std::vector<int> before = LiveProcessesIn("app");
  ExecOptions o;
  o.args = {"/bin/sh", "-c", "sleep 1000 & echo started; sleep 1000"};
  o.tty = true;
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  Output output;
  std::thread canceller([&] {
    EXPECT_TRUE(
        WaitFor([&] { return absl::StrContains(output.Out(), "started"); }, absl::Seconds(10)));
    session->Cancel();
  });
  absl::StatusOr<int> code = session->Wait(output.Sink());
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(code.status())) << code.status();
  EXPECT_EQ(LiveProcessesIn("app"), before);
}

TEST_F(ExecE2eTest, ABackgroundChildDoesNotOutliveTheCommand) {
  StartContainer("app");
  const std::vector<int> before = LiveProcessesIn("app");
  ExecOptions o;
  o.args = {"/bin/sh", "-c", "sleep 1000 & echo done"};
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  Output output;
  const absl::Time begin = absl::Now();
  absl::StatusOr<int> code = session->Wait(output.Sink());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(output.out, "done\n");
  EXPECT_LT(absl::Now() - begin, absl::Seconds(5)) << "the child holding stdout was killed";
  EXPECT_EQ(LiveProcessesIn("app"), before);
}

TEST_F(ExecE2eTest, DestroyingASessionKillsItsProcess) {
  StartContainer("app");
  const std::vector<int> before = LiveProcessesIn("app");
  ExecOptions o;
  o.args = {"/bin/sh", "-c", "echo $$; sleep 1000"};
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  ASSERT_TRUE(WaitFor([&] { return session->pid() != 0 || LiveProcessesIn("app").size() > 1; },
                      absl::Seconds(10)));
  session.reset();
  EXPECT_EQ(LiveProcessesIn("app"), before);
}

TEST_F(ExecE2eTest, ExecsLeftByACrashEndWhenTheRuntimeOpensAgain) {
  StartContainer("app");
  const std::vector<int> before = LiveProcessesIn("app");
  ExecOptions o;
  o.args = {"/bin/sh", "-c", "sleep 1000 & sleep 1000"};
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  ASSERT_TRUE(WaitFor([&] { return LiveProcessesIn("app").size() >= before.size() + 2; },
                      absl::Seconds(10)));
  // As if the process that ran it crashed: nothing ends the session.
  ExecSession* leaked = session.release();
  auto reopened = RuncRuntime::Open(world_.RuntimeOptions());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_THAT((*reopened)->recovery().errors, IsEmpty());
  EXPECT_EQ(LiveProcessesIn("app"), before);
  DIR* d = opendir((world_.state_dir() + "/app").c_str());
  ASSERT_NE(d, nullptr);
  while (struct dirent* e = readdir(d)) {
    EXPECT_FALSE(absl::StartsWith(e->d_name, "exec.")) << e->d_name << " was left";
  }
  closedir(d);
  delete leaked;  // reaps runc, our child
}

TEST_F(ExecE2eTest, UnknownCommandFailsWithRuncsReason) {
  StartContainer("app");
  ExecOptions o;
  o.args = {"/no/such/program"};
  auto session = MustExec("app", o);
  ASSERT_NE(session, nullptr);
  Output output;
  absl::StatusOr<int> code = session->Wait(output.Sink());
  EXPECT_TRUE(absl::IsFailedPrecondition(code.status())) << code.status();
  EXPECT_THAT(code.status().message(), HasSubstr("/no/such/program"));
}

TEST_F(ExecE2eTest, ExecIntoAMissingOrNotRunningContainerFails) {
  ExecOptions o;
  o.args = {"/bin/true"};
  auto missing = runtime_->Exec("nothere", o);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr("exec in container nothere"));

  ContainerSpec s;
  s.id = "idle";
  s.rootfs_layers = {BusyboxRootfs()};
  s.args = {"/bin/sleep", "100000"};
  ASSERT_TRUE(runtime_->Create(s).ok());
  auto created = runtime_->Exec("idle", o);
  EXPECT_TRUE(absl::IsFailedPrecondition(created.status())) << created.status();
  EXPECT_THAT(created.status().message(), HasSubstr("not running"));

  ASSERT_TRUE(runtime_->Start("idle").ok());
  ASSERT_TRUE(runtime_->Stop("idle", absl::Seconds(1)).ok());
  auto stopped = runtime_->Exec("idle", o);
  EXPECT_TRUE(absl::IsFailedPrecondition(stopped.status())) << stopped.status();
  EXPECT_THAT(stopped.status().message(), HasSubstr("stopped"));

  o.args = {};
  EXPECT_TRUE(absl::IsInvalidArgument(runtime_->Exec("idle", o).status()));
}

}  // namespace
}  // namespace berth::runtime
