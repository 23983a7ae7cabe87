// The runtime layer on real runc with a busybox rootfs. Every test checks
// that it left no runc container, mount, cgroup, process or directory.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/oci/runc.h"
#include "runtime/runc_runtime.h"
#include "runtime/state_store.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "tests/fault_injectors.h"
#include "tests/processes.h"
#include "tests/test_env.h"

namespace berth::runtime {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class RuntimeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Built here, before any test forks: a child killed with -9 must not be
    // the one that owns it.
    BusyboxRootfs();
    runtime_ = OpenRuntime(world_.RuntimeOptions());
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

  static std::unique_ptr<RuncRuntime> OpenRuntime(RuncRuntimeOptions options) {
    auto rt = RuncRuntime::Open(std::move(options));
    EXPECT_TRUE(rt.ok()) << rt.status();
    return rt.ok() ? *std::move(rt) : nullptr;
  }

  ContainerSpec Spec(const std::string& id, std::vector<std::string> args) const {
    ContainerSpec s;
    s.id = id;
    s.rootfs_layers = {BusyboxRootfs()};
    s.args = std::move(args);
    return s;
  }

  ContainerStatus MustState(const std::string& id) {
    auto st = runtime_->State(id);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : ContainerStatus{};
  }

  void CreateAndStart(const ContainerSpec& spec) {
    ASSERT_TRUE(runtime_->Create(spec).ok());
    ASSERT_TRUE(runtime_->Start(spec.id).ok());
  }

  // Waits until the container's log has `line` on stdout: its program runs
  // (a shell has set its traps).
  void WaitForLog(const std::string& id, const std::string& line) {
    ASSERT_TRUE(WaitFor(
        [&] {
          auto log = ReadFile(world_.state_dir() + "/" + id + "/container.log");
          return log.ok() && absl::StrContains(*log, " stdout F " + line + "\n");
        },
        absl::Seconds(10)))
        << id << " never printed " << line;
  }

  TestWorld world_;
  std::unique_ptr<RuncRuntime> runtime_;
};

// A shell that exits with `code` on SIGTERM and prints `hello` first.
std::vector<std::string> TrappingShell(int code) {
  return {"/bin/sh", "-c",
          absl::StrCat("trap 'exit ", code,
                       "' TERM; echo hello; echo oops >&2; "
                       "while true; do sleep 0.05; done")};
}

TEST_F(RuntimeE2eTest, LifecycleRoundTrip) {
  ContainerSpec spec = Spec("web", TrappingShell(0));
  spec.labels = {{"app", "web"}};
  ASSERT_TRUE(runtime_->Create(spec).ok());
  ContainerStatus created = MustState("web");
  EXPECT_EQ(created.state, ContainerState::kCreated);
  EXPECT_GT(created.pid, 0);
  EXPECT_EQ(created.labels.at("app"), "web");

  ASSERT_TRUE(runtime_->Start("web").ok());
  ContainerStatus running = MustState("web");
  EXPECT_EQ(running.state, ContainerState::kRunning);
  EXPECT_EQ(running.pid, created.pid);
  EXPECT_NE(running.started_at, absl::InfinitePast());

  // The monitor writes CRI log lines for both streams.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto log = ReadFile(running.log_path);
        return log.ok() && absl::StrContains(*log, " stdout F hello\n") &&
               absl::StrContains(*log, " stderr F oops\n");
      },
      absl::Seconds(5)));

  auto listed = runtime_->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "web");
  absl::StatusOr<std::vector<std::string>> ids = runtime_->ListIds();
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre("web"));

  ASSERT_TRUE(runtime_->Stop("web", absl::Seconds(10)).ok());
  ContainerStatus stopped = MustState("web");
  EXPECT_EQ(stopped.state, ContainerState::kStopped);
  ASSERT_TRUE(stopped.exit_code.has_value());
  EXPECT_EQ(*stopped.exit_code, 0);
  EXPECT_EQ(stopped.reason, "Completed");
  EXPECT_GE(stopped.finished_at, stopped.started_at);
  // Stopping a stopped container is a no-op.
  EXPECT_TRUE(runtime_->Stop("web", absl::Seconds(1)).ok());

  ASSERT_TRUE(runtime_->Delete("web").ok());
  EXPECT_TRUE(absl::IsNotFound(runtime_->State("web").status()));
  EXPECT_TRUE(runtime_->Delete("web").ok()) << "delete is idempotent";
  ids = runtime_->ListIds();
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, IsEmpty());
  EXPECT_THAT(world_.Leaks(), IsEmpty());
}

TEST_F(RuntimeE2eTest, MonitorsRunInOneCgroupOutOfTheCallers) {
  ASSERT_TRUE(runtime_->Create(Spec("web", TrappingShell(0))).ok());
  ASSERT_TRUE(runtime_->Create(Spec("db", TrappingShell(0))).ok());
  StateStore store(world_.state_dir());
  const std::string monitors = world_.cgroup_parent() + "/_monitors";
  for (const char* id : {"web", "db"}) {
    const pid_t monitor = store.ReadMonitorPid(id);
    ASSERT_GT(monitor, 0);
    // Not in this process's cgroup: killing the caller's cgroup (a pod, a
    // service) leaves the monitor alone.
    auto cgroups = ReadFile(absl::StrCat("/proc/", monitor, "/cgroup"));
    ASSERT_TRUE(cgroups.ok());
    EXPECT_THAT(*cgroups, HasSubstr(monitors + "\n")) << id;
  }
  ASSERT_TRUE(runtime_->Delete("web").ok());
  EXPECT_THAT(ExistingCgroupDirs(monitors), ::testing::Not(IsEmpty())) << "db's monitor is in it";
  ASSERT_TRUE(runtime_->Delete("db").ok());
  EXPECT_THAT(ExistingCgroupDirs(monitors), IsEmpty()) << "removed with the last monitor";
}

// A process group as a monitor leads one: its leader (in its own group,
// waiting to be killed) and one member (sleep) that stays when the leader
// goes. Both are children of this process; pids are -1 when the group
// could not be made (nothing of it is left then).
struct MonitorLikeGroup {
  pid_t leader = -1;
  uint64_t leader_start = 0;
  pid_t member = -1;
  uint64_t member_start = 0;
};

MonitorLikeGroup StartMonitorLikeGroup() {
  MonitorLikeGroup g;
  int fds[2];
  if (pipe(fds) != 0) return g;
  g.leader = fork();
  if (g.leader == 0) {
    setpgid(0, 0);
    const pid_t member = fork();
    if (member == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      execl("/bin/sleep", "sleep", "1000", nullptr);
      _exit(127);
    }
    (void)!write(fds[1], &member, sizeof member);
    pause();
    _exit(0);
  }
  close(fds[1]);
  if (g.leader > 0 && read(fds[0], &g.member, sizeof g.member) == sizeof g.member) {
    g.leader_start = ProcessStartTime(g.leader);
    g.member_start = ProcessStartTime(g.member);
  } else if (g.leader > 0) {  // no member: the leader (and its group) goes
    kill(-g.leader, SIGKILL);
    waitpid(g.leader, nullptr, 0);
    g.leader = -1;
    g.member = -1;
  }
  close(fds[0]);
  return g;
}

// The record a create leaves for container `id` whose monitor is `monitor`.
ContainerRecord RecordWithMonitor(const std::string& id, const std::string& cgroup_parent,
                                  pid_t monitor, uint64_t monitor_start) {
  ContainerRecord record;
  record.spec.id = id;
  record.spec.rootfs_layers = {BusyboxRootfs()};
  record.spec.args = {"/bin/sleep", "1000"};
  record.phase = RecordPhase::kStarted;
  record.cgroups_path = cgroup_parent + "/" + id;
  record.monitor_pid = monitor;
  record.monitor_start_time = monitor_start;
  return record;
}

// A monitor killed alone (so without its exit file) can leave members of
// its process group in the monitors' cgroup (runc; runc init before runc
// moves it). Delete finds them by the monitor's pid as their group id.
TEST_F(RuntimeE2eTest, DeleteKillsWhatAKilledMonitorsGroupLeftInTheMonitorsCgroup) {
  MonitorLikeGroup g = StartMonitorLikeGroup();
  ASSERT_GT(g.member, 0);
  absl::StatusOr<UniqueFd> member_fd = OpenPidFd(g.member, g.member_start);
  ASSERT_TRUE(member_fd.ok()) << member_fd.status();
  const std::string monitors = world_.cgroup_parent() + "/_monitors";
  ASSERT_TRUE(MoveToCgroup(g.member, monitors).ok());
  kill(g.leader, SIGKILL);
  ASSERT_EQ(waitpid(g.leader, nullptr, 0), g.leader);

  StateStore store(world_.state_dir());
  ASSERT_TRUE(store.CreateDir("lost").ok());
  ASSERT_TRUE(
      store.Write(RecordWithMonitor("lost", world_.cgroup_parent(), g.leader, g.leader_start))
          .ok());

  ASSERT_TRUE(runtime_->Delete("lost").ok());
  EXPECT_FALSE(ProcessIsAlive(g.member, g.member_start));
  (void)SignalPidFd(*member_fd, SIGKILL);  // left by a failure
  waitpid(g.member, nullptr, WNOHANG);     // if this process is its subreaper
  EXPECT_THAT(ExistingCgroupDirs(monitors), IsEmpty());
}

// The record of container "live" whose monitor is a live monitor-like group
// with its member in the monitors' cgroup in every hierarchy but the
// freezer's, where it is frozen: a SIGKILL to it waits for the thaw (runc in
// the middle of its own exit, stretched). Needs a v1 freezer (v2's lets
// SIGKILL through): tests skip without one.
class FrozenMemberTest : public RuntimeE2eTest {
 protected:
  void SetUp() override {
    RuntimeE2eTest::SetUp();
    state_file_ = FreezerStatePath(world_.cgroup_parent() + "/frozen");
    if (!absl::EndsWith(state_file_, "/freezer.state")) GTEST_SKIP() << "no v1 freezer";
    frozen_dir_ = std::string(absl::StripSuffix(state_file_, "/freezer.state"));
  }

  // Makes the group and the record; after the runtime is opened (its
  // recovery would kill a monitor-like group as a stranger).
  void Arrange() {
    g_ = StartMonitorLikeGroup();
    ASSERT_GT(g_.member, 0);
    absl::StatusOr<UniqueFd> member_fd = OpenPidFd(g_.member, g_.member_start);
    ASSERT_TRUE(member_fd.ok()) << member_fd.status();
    member_fd_ = *std::move(member_fd);
    ASSERT_TRUE(MoveToCgroup(g_.member, monitors_).ok());  // makes the parents too
    ASSERT_EQ(mkdir(frozen_dir_.c_str(), 0755), 0) << strerror(errno);
    std::ofstream(frozen_dir_ + "/cgroup.procs") << g_.member << std::flush;
    std::ofstream(state_file_) << "FROZEN" << std::flush;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto v = ReadFile(state_file_);
          return v.ok() && absl::StartsWith(*v, "FROZEN");
        },
        absl::Seconds(5)));
    StateStore store(world_.state_dir());
    ASSERT_TRUE(store.CreateDir("live").ok());
    ASSERT_TRUE(
        store.Write(RecordWithMonitor("live", world_.cgroup_parent(), g_.leader, g_.leader_start))
            .ok());
  }

  void TearDown() override {
    if (!frozen_dir_.empty()) {
      Thaw();
      if (g_.member > 0) {
        (void)SignalPidFd(member_fd_, SIGKILL);  // left by a failure
        WaitFor([&] { return !ProcessIsAlive(g_.member, g_.member_start); }, absl::Seconds(5));
        waitpid(g_.member, nullptr, WNOHANG);  // if this process is its subreaper
      }
      if (g_.leader > 0) {
        kill(g_.leader, SIGKILL);
        waitpid(g_.leader, nullptr, 0);
      }
      rmdir(frozen_dir_.c_str());
    }
    RuntimeE2eTest::TearDown();
  }

  void Thaw() { std::ofstream(state_file_) << "THAWED" << std::flush; }

  // Opens the runtime again with `cleanup_timeout` (a failure in its
  // open is fatal to the test).
  void Reopen(absl::Duration cleanup_timeout) {
    RuncRuntimeOptions options = world_.RuntimeOptions();
    options.cleanup_timeout = cleanup_timeout;
    runtime_.reset();
    runtime_ = OpenRuntime(options);
    ASSERT_NE(runtime_, nullptr);
  }

  const std::string monitors_ = world_.cgroup_parent() + "/_monitors";
  std::string state_file_;
  std::string frozen_dir_;
  MonitorLikeGroup g_;
  UniqueFd member_fd_;
};

// Delete of a container whose monitor still runs kills the monitor's whole
// group, and waits for every member to be gone, not for the monitor alone:
// a member that outlives it for a while would keep the monitors' cgroup.
TEST_F(FrozenMemberTest, DeleteWaitsForEveryMemberOfALiveMonitorsGroup) {
  ASSERT_NO_FATAL_FAILURE(Arrange());
  std::thread thaw([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Thaw();
  });
  const absl::Status deleted = runtime_->Delete("live");
  thaw.join();
  EXPECT_TRUE(deleted.ok()) << deleted;
  EXPECT_FALSE(ProcessIsAlive(g_.member, g_.member_start)) << "Delete returned before it died";
  EXPECT_THAT(ExistingCgroupDirs(monitors_), IsEmpty());
}

// ThawCgroups writes the freezer's file of the cgroup (what Stop and
// Delete do before their signals), and makes nothing where there is no
// such cgroup.
TEST_F(FrozenMemberTest, ThawCgroupsThawsTheFreezerAndMakesNothingWhereThereIsNoCgroup) {
  ASSERT_TRUE(MakeDirs(frozen_dir_).ok());  // and the parent
  std::ofstream(state_file_) << "FROZEN" << std::flush;
  auto state_is = [&](absl::string_view want) {
    return WaitFor(
        [&] {
          auto v = ReadFile(state_file_);
          return v.ok() && absl::StartsWith(*v, want);
        },
        absl::Seconds(5));
  };
  ASSERT_TRUE(state_is("FROZEN"));
  ThawCgroups(world_.cgroup_parent() + "/frozen");
  EXPECT_TRUE(state_is("THAWED"));
  ThawCgroups(world_.cgroup_parent() + "/absent");
  EXPECT_THAT(ExistingCgroupDirs(world_.cgroup_parent() + "/absent"), IsEmpty());
}

// A member that outlives the cleanup timeout fails the Delete, naming the
// container and the monitor whose group it is in. The record stays, saying
// "deleting", so the next start's recovery rolls it back: it ends the
// member and removes the monitors' cgroup.
TEST_F(FrozenMemberTest, AMemberOutlivingTheCleanupTimeoutFailsDelete) {
  ASSERT_NO_FATAL_FAILURE(Reopen(absl::Milliseconds(300)));
  ASSERT_NO_FATAL_FAILURE(Arrange());
  const absl::Status deleted = runtime_->Delete("live");
  EXPECT_FALSE(deleted.ok());
  EXPECT_THAT(std::string(deleted.message()), HasSubstr("live"));
  EXPECT_THAT(std::string(deleted.message()),
              HasSubstr(absl::StrCat("monitor ", g_.leader, "'s group survived SIGKILL")));
  EXPECT_TRUE(ProcessIsAlive(g_.member, g_.member_start));

  Thaw();
  ASSERT_NO_FATAL_FAILURE(Reopen(absl::Milliseconds(300)));
  EXPECT_THAT(runtime_->recovery().rolled_back, ElementsAre("live"));
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  EXPECT_TRUE(WaitFor([&] { return !ProcessIsAlive(g_.member, g_.member_start); },
                      absl::Seconds(5)));
  EXPECT_THAT(ExistingCgroupDirs(monitors_), IsEmpty());
  EXPECT_NE(access(StateStore(world_.state_dir()).ContainerDir("live").c_str(), F_OK), 0);
}

// After such a failure the container is listed as "Deleting", and a retry
// of the Delete (the reconciler's, for a leftover record) finishes it: it
// finds the gone monitor's group by the record, even though the monitor
// wrote its exit file before it was killed, and waits for the member.
TEST_F(FrozenMemberTest, ARetriedDeleteFinishesWhatAFailedOneLeft) {
  ASSERT_NO_FATAL_FAILURE(Reopen(absl::Seconds(1)));
  ASSERT_NO_FATAL_FAILURE(Arrange());
  StateStore store(world_.state_dir());
  std::ofstream(store.ExitFile("live")) << R"({"exit_code": 0})" << std::flush;
  ASSERT_TRUE(store.ReadExit("live").has_value());
  EXPECT_FALSE(runtime_->Delete("live").ok());
  absl::StatusOr<ContainerStatus> st = runtime_->State("live");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state, ContainerState::kUnknown);
  EXPECT_EQ(st->reason, "Deleting");
  // The monitor is gone (reaped: not even a zombie), its member frozen.
  ASSERT_EQ(waitpid(g_.leader, nullptr, 0), g_.leader);
  g_.leader = 0;
  ASSERT_TRUE(ProcessIsAlive(g_.member, g_.member_start));

  std::thread thaw([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Thaw();
  });
  const absl::Status retried = runtime_->Delete("live");
  thaw.join();
  EXPECT_TRUE(retried.ok()) << retried;
  EXPECT_FALSE(ProcessIsAlive(g_.member, g_.member_start)) << "Delete returned before it died";
  EXPECT_THAT(ExistingCgroupDirs(monitors_), IsEmpty());
  EXPECT_NE(access(store.ContainerDir("live").c_str(), F_OK), 0);
  EXPECT_TRUE(absl::IsNotFound(runtime_->State("live").status()));
}

// An earlier berthd gave each monitor a cgroup of its own: at recovery an
// adopted container's monitor moves into the shared one, and the old
// directories go, an unknown one's as an orphan.
TEST_F(RuntimeE2eTest, RecoveryMovesMonitorsOutOfTheirOwnCgroupsOfAnEarlierVersion) {
  CreateAndStart(Spec("old", {"/bin/sleep", "1000"}));
  StateStore store(world_.state_dir());
  const pid_t monitor = store.ReadMonitorPid("old");
  const std::string monitors = world_.cgroup_parent() + "/_monitors";
  ASSERT_TRUE(MoveToCgroup(monitor, monitors + "/old").ok());
  ASSERT_TRUE(MakeDirs(ExistingCgroupDirs(monitors).front() + "/gone").ok());

  runtime_.reset();
  runtime_ = OpenRuntime(world_.RuntimeOptions());
  ASSERT_NE(runtime_, nullptr);
  EXPECT_THAT(runtime_->recovery().adopted, ElementsAre("old"));
  EXPECT_THAT(runtime_->recovery().orphans_removed, ElementsAre("gone"));
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  auto cgroups = ReadFile(absl::StrCat("/proc/", monitor, "/cgroup"));
  ASSERT_TRUE(cgroups.ok());
  EXPECT_THAT(*cgroups, HasSubstr(monitors + "\n"));
  EXPECT_THAT(*cgroups, ::testing::Not(HasSubstr(monitors + "/old")));
  EXPECT_THAT(ExistingCgroupDirs(monitors + "/old"), IsEmpty());
  EXPECT_THAT(ExistingCgroupDirs(monitors + "/gone"), IsEmpty());
  EXPECT_EQ(MustState("old").state, ContainerState::kRunning);
}

// At recovery, a process in the monitors' cgroup that is neither an
// adopted container's monitor nor in one's process group is killed.
TEST_F(RuntimeE2eTest, RecoveryKillsStrangersInTheMonitorsCgroupAndKeepsAdoptedMonitors) {
  CreateAndStart(Spec("kept", {"/bin/sleep", "1000"}));
  StateStore store(world_.state_dir());
  const pid_t monitor = store.ReadMonitorPid("kept");
  const uint64_t monitor_start = ProcessStartTime(monitor);
  ASSERT_GT(monitor_start, 0u);
  berth::testing::OwnedProcess stray;
  ASSERT_TRUE(stray.Start({"/bin/sleep", "1000"}, world_.dir() + "/stray.log").ok());
  const uint64_t stray_start = ProcessStartTime(stray.pid());
  ASSERT_TRUE(MoveToCgroup(stray.pid(), world_.cgroup_parent() + "/_monitors").ok());

  runtime_.reset();
  runtime_ = OpenRuntime(world_.RuntimeOptions());
  ASSERT_NE(runtime_, nullptr);
  EXPECT_TRUE(WaitFor([&] { return !ProcessIsAlive(stray.pid(), stray_start); },
                      absl::Seconds(10)))
      << "recovery left it";
  stray.Stop(SIGKILL);
  EXPECT_THAT(runtime_->recovery().adopted, ElementsAre("kept"));
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  EXPECT_TRUE(ProcessIsAlive(monitor, monitor_start)) << "the adopted container's monitor stays";
  EXPECT_EQ(MustState("kept").state, ContainerState::kRunning);
}

TEST_F(RuntimeE2eTest, CreateTwiceIsAlreadyExists) {
  ContainerSpec spec = Spec("dup", {"/bin/sleep", "1000"});
  ASSERT_TRUE(runtime_->Create(spec).ok());
  absl::Status again = runtime_->Create(spec);
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_EQ(MustState("dup").state, ContainerState::kCreated) << "the first one is untouched";
}

TEST_F(RuntimeE2eTest, StopIgnoringSigtermWaitsForTimeoutThenKills) {
  // busybox sleep as PID 1 ignores SIGTERM.
  CreateAndStart(Spec("stubborn", {"/bin/sleep", "1000"}));
  const absl::Duration timeout = absl::Seconds(1);
  const absl::Time begin = absl::Now();
  ASSERT_TRUE(runtime_->Stop("stubborn", timeout).ok());
  EXPECT_GE(absl::Now() - begin, timeout) << "SIGKILL came before the grace period ended";
  ContainerStatus st = MustState("stubborn");
  EXPECT_EQ(st.state, ContainerState::kStopped);
  EXPECT_EQ(st.exit_code, 128 + SIGKILL);
  EXPECT_EQ(st.reason, "Error");
}

TEST_F(RuntimeE2eTest, StopOfProcessThatExitsOnSigtermReturnsWithoutWaiting) {
  CreateAndStart(Spec("polite", TrappingShell(143)));
  WaitForLog("polite", "hello");
  const absl::Duration timeout = absl::Seconds(60);
  const absl::Time begin = absl::Now();
  ASSERT_TRUE(runtime_->Stop("polite", timeout).ok());
  EXPECT_LT(absl::Now() - begin, timeout / 2) << "stop waited for the timeout";
  EXPECT_EQ(MustState("polite").exit_code, 143);
}

TEST_F(RuntimeE2eTest, PausedBehindItsBackIsReportedAndStillStopsAndDeletes) {
  oci::Runc runc(oci::FindRunc(), world_.runc_root());
  auto runc_do = [&](const char* verb, const char* id) {
    return RunCommandOk({runc.binary(), "--root", runc.root(), verb, id}, absl::Seconds(10));
  };
  CreateAndStart(Spec("frozen", {"/bin/sleep", "1000"}));
  CreateAndStart(Spec("frozen2", {"/bin/sleep", "1000"}));
  ASSERT_TRUE(runc_do("pause", "frozen").ok());
  EXPECT_EQ(MustState("frozen").state, ContainerState::kPaused);
  ASSERT_TRUE(runc_do("resume", "frozen").ok());
  EXPECT_EQ(MustState("frozen").state, ContainerState::kRunning);

  // Stop thaws what it must signal: SIGTERM (ignored by sleep as PID 1),
  // then SIGKILL after the timeout.
  ASSERT_TRUE(runc_do("pause", "frozen").ok());
  ASSERT_TRUE(runtime_->Stop("frozen", absl::Seconds(1)).ok());
  EXPECT_EQ(MustState("frozen").exit_code, 128 + SIGKILL);

  // Delete thaws what it must kill.
  ASSERT_TRUE(runc_do("pause", "frozen2").ok());
  const absl::Time begin = absl::Now();
  ASSERT_TRUE(runtime_->Delete("frozen2").ok());
  EXPECT_LT(absl::Now() - begin, absl::Seconds(3)) << "delete waited for a frozen process";
  EXPECT_TRUE(absl::IsNotFound(runtime_->State("frozen2").status()));
}

TEST_F(RuntimeE2eTest, StartInterruptedByACrashIsRecognizedOnRetry) {
  // Berth died after the program started but before it recorded that: once
  // after runc removed the exec fifo, once before.
  oci::Runc runc(oci::FindRunc(), world_.runc_root());
  ASSERT_TRUE(runtime_->Create(Spec("a", TrappingShell(0))).ok());
  ASSERT_TRUE(
      RunCommandOk({runc.binary(), "--root", runc.root(), "start", "a"}, absl::Seconds(10)).ok());
  ASSERT_TRUE(runtime_->Create(Spec("b", TrappingShell(0))).ok());
  {
    UniqueFd fifo(open((world_.runc_root() + "/b/exec.fifo").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fifo.valid());
    char buf[8];
    while (read(fifo.get(), buf, sizeof buf) > 0) {
    }
  }
  for (const char* id : {"a", "b"}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(MustState(id).state, ContainerState::kCreated) << "the record says created";
    const absl::Time begin = absl::Now();
    absl::Status s = runtime_->Start(id);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_LT(absl::Now() - begin, absl::Seconds(5)) << "the retry waited for a fifo nobody writes";
    EXPECT_EQ(MustState(id).state, ContainerState::kRunning);
    WaitForLog(id, "hello");
    EXPECT_TRUE(absl::IsFailedPrecondition(runtime_->Start(id))) << "started twice";
  }
}

TEST_F(RuntimeE2eTest, StopOfCreatedContainerKillsIt) {
  ASSERT_TRUE(runtime_->Create(Spec("idle", {"/bin/sleep", "1000"})).ok());
  ASSERT_TRUE(runtime_->Stop("idle", absl::Seconds(5)).ok());
  EXPECT_EQ(MustState("idle").state, ContainerState::kStopped);
  EXPECT_FALSE(runtime_->Start("idle").ok());
}

TEST_F(RuntimeE2eTest, ExitCodeOfProgramIsRecorded) {
  CreateAndStart(Spec("short", {"/bin/sh", "-c", "exit 3"}));
  ASSERT_TRUE(WaitFor([&] { return MustState("short").state == ContainerState::kStopped; },
                      absl::Seconds(10)));
  EXPECT_EQ(MustState("short").exit_code, 3);
}

TEST_F(RuntimeE2eTest, FailureAtEveryCreateStepLeavesNothingBehind) {
  for (const char* step : kCreateSteps) {
    SCOPED_TRACE(step);
    FailAt faults(step);
    RuncRuntimeOptions options = world_.RuntimeOptions();
    options.faults = &faults;
    auto faulty = OpenRuntime(options);
    ASSERT_NE(faulty, nullptr);
    absl::Status s = faulty->Create(Spec("victim", {"/bin/sleep", "1000"}));
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(step));
    EXPECT_THAT(std::string(s.message()), HasSubstr("create container victim"));
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    // A retry starts clean.
    ASSERT_TRUE(runtime_->Create(Spec("victim", {"/bin/sleep", "1000"})).ok());
    ASSERT_TRUE(runtime_->Delete("victim").ok());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
  }
}

TEST_F(RuntimeE2eTest, CreateTimeoutAtAnyMomentLeavesNothingBehind) {
  int timed_out = 0;
  for (int ms : {1, 3, 6, 10, 15, 20, 30, 45}) {
    SCOPED_TRACE(absl::StrCat(ms, " ms"));
    RuncRuntimeOptions options = world_.RuntimeOptions();
    options.create_timeout = absl::Milliseconds(ms);
    auto hasty = OpenRuntime(options);
    ASSERT_NE(hasty, nullptr);
    absl::Status s = hasty->Create(Spec("hasty", {"/bin/sleep", "1000"}));
    if (s.ok()) {
      ASSERT_TRUE(hasty->Delete("hasty").ok());
    } else {
      EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
      ++timed_out;
    }
    EXPECT_THAT(world_.Leaks(), IsEmpty());
  }
  EXPECT_GT(timed_out, 0) << "no create hit its deadline; the test proved nothing";
}

TEST_F(RuntimeE2eTest, InvalidIdsNeverReachAPath) {
  for (const char* id : {"../x", "a/b", "", ".", "..", "UPPER", "x\n", "-a", "a..b"}) {
    SCOPED_TRACE(id);
    absl::Status s = runtime_->Create(Spec(id, {"/bin/true"}));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_TRUE(absl::IsInvalidArgument(runtime_->State(id).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(runtime_->Delete(id)));
  }
  EXPECT_NE(access((world_.dir() + "/x").c_str(), F_OK), 0);
  EXPECT_THAT(world_.Leaks(), IsEmpty());
}

TEST_F(RuntimeE2eTest, ResourceLimitsReachTheCgroup) {
  ContainerSpec spec = Spec("limited", {"/bin/sleep", "1000"});
  spec.resources.memory_bytes = 64 << 20;
  spec.resources.pids = 50;
  spec.resources.cpu_millis = 500;
  CreateAndStart(spec);
  const std::string cg = absl::StrCat(world_.cgroup_parent(), "/limited");
  bool saw_memory = false, saw_pids = false;
  for (const std::string& d : ExistingCgroupDirs(cg)) {
    if (auto v = ReadFile(d + "/memory.limit_in_bytes"); v.ok()) {
      EXPECT_EQ(absl::StripAsciiWhitespace(*v), std::to_string(64 << 20));
      saw_memory = true;
    }
    if (auto v = ReadFile(d + "/memory.max"); v.ok()) {
      EXPECT_EQ(absl::StripAsciiWhitespace(*v), std::to_string(64 << 20));
      saw_memory = true;
    }
    if (auto v = ReadFile(d + "/pids.max"); v.ok()) {
      EXPECT_EQ(absl::StripAsciiWhitespace(*v), "50");
      saw_pids = true;
    }
  }
  EXPECT_TRUE(saw_memory);
  EXPECT_TRUE(saw_pids);
}

TEST_F(RuntimeE2eTest, OomKillIsReported) {
  ContainerSpec spec =
      Spec("hog", {"/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=256M count=1"});
  spec.resources.memory_bytes = 16 << 20;
  CreateAndStart(spec);
  ASSERT_TRUE(WaitFor([&] { return MustState("hog").state == ContainerState::kStopped; },
                      absl::Seconds(20)));
  ContainerStatus st = MustState("hog");
  EXPECT_TRUE(st.oom_killed);
  EXPECT_EQ(st.reason, "OOMKilled");
}

TEST_F(RuntimeE2eTest, StopWithoutOwnPidNamespaceKillsEveryProcessInTheCgroup) {
  ContainerSpec spec = Spec("hostpid", {"/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"});
  spec.host_pid = true;
  CreateAndStart(spec);
  const std::string cg = absl::StrCat(world_.cgroup_parent(), "/hostpid");
  ASSERT_TRUE(WaitFor([&] { return CgroupPids(cg).size() >= 3; }, absl::Seconds(5)));
  std::vector<int> before = CgroupPids(cg);
  ASSERT_TRUE(runtime_->Stop("hostpid", absl::Seconds(5)).ok());
  EXPECT_THAT(CgroupPids(cg), IsEmpty());
  for (int pid : before) EXPECT_NE(kill(pid, 0), 0) << "pid " << pid << " survived";
}

// Runs `body` in a child process that then waits to be killed; returns the
// child's pid once it wrote "ready" lines: one per int it reports.
pid_t RunInChild(const std::function<std::vector<int>()>& body, std::vector<int>* reported) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    std::vector<int> values = body();
    std::string line = absl::StrJoin(values, " ") + "\n";
    (void)!write(fds[1], line.data(), line.size());
    while (true) pause();
  }
  close(fds[1]);
  std::string got;
  char buf[256];
  ssize_t n;
  while (got.find('\n') == std::string::npos && (n = read(fds[0], buf, sizeof buf)) > 0) {
    got.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  for (absl::string_view v : absl::StrSplit(got, ' ', absl::SkipWhitespace())) {
    int x;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &x)) reported->push_back(x);
  }
  return child;
}

void Kill9(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

TEST_F(RuntimeE2eTest, RecoveryAfterKill9AdoptsRunningContainersAndCollectsExitCodes) {
  runtime_.reset();  // the child holds the runtime
  const RuncRuntimeOptions options = world_.RuntimeOptions();
  std::vector<int> pids;
  pid_t holder = RunInChild(
      [&] {
        std::vector<int> out;
        auto rt = RuncRuntime::Open(options);
        if (!rt.ok()) _exit(1);
        for (int i = 0; i < 3; ++i) {
          ContainerSpec s = Spec(absl::StrCat("svc-", i), TrappingShell(10 + i));
          if (!(*rt)->Create(s).ok() || !(*rt)->Start(s.id).ok()) _exit(2);
          out.push_back((*rt)->State(s.id)->pid);
        }
        for (int i = 0; i < 3; ++i) {
          WaitForLog(absl::StrCat("svc-", i), "hello");
        }
        return out;
      },
      &pids);
  ASSERT_EQ(pids.size(), 3u);
  Kill9(holder);

  runtime_ = OpenRuntime(options);
  ASSERT_NE(runtime_, nullptr);
  EXPECT_EQ(runtime_->recovery().adopted.size(), 3u);
  EXPECT_THAT(runtime_->recovery().rolled_back, IsEmpty());
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  for (int i = 0; i < 3; ++i) {
    ContainerStatus st = MustState(absl::StrCat("svc-", i));
    EXPECT_EQ(st.state, ContainerState::kRunning);
    EXPECT_EQ(st.pid, pids[i]) << "the container was restarted";
  }
  for (int i = 0; i < 3; ++i) {
    const std::string id = absl::StrCat("svc-", i);
    ASSERT_TRUE(runtime_->Stop(id, absl::Seconds(10)).ok());
    EXPECT_EQ(MustState(id).exit_code, 10 + i);
  }
}

TEST_F(RuntimeE2eTest, ExitWhileNoControllerRunsIsReportedAfterwards) {
  runtime_.reset();
  const RuncRuntimeOptions options = world_.RuntimeOptions();
  std::vector<int> pids;
  pid_t holder = RunInChild(
      [&] {
        auto rt = RuncRuntime::Open(options);
        if (!rt.ok()) _exit(1);
        ContainerSpec s = Spec("brief", {"/bin/sh", "-c", "sleep 0.5; exit 42"});
        if (!(*rt)->Create(s).ok() || !(*rt)->Start(s.id).ok()) _exit(2);
        return std::vector<int>{(*rt)->State(s.id)->pid};
      },
      &pids);
  ASSERT_EQ(pids.size(), 1u);
  Kill9(holder);
  // The container ends while nothing holds the runtime.
  StateStore store(options.state_dir);
  ASSERT_TRUE(WaitFor([&] { return store.ReadExit("brief").has_value(); }, absl::Seconds(10)));

  runtime_ = OpenRuntime(options);
  ASSERT_NE(runtime_, nullptr);
  ContainerStatus st = MustState("brief");
  EXPECT_EQ(st.state, ContainerState::kStopped);
  EXPECT_EQ(st.exit_code, 42);
}

TEST_F(RuntimeE2eTest, RecoveryRollsBackHalfCreatedContainers) {
  runtime_.reset();
  const RuncRuntimeOptions options = world_.RuntimeOptions();
  for (const char* step : {"bundle", "rootfs_mount", "monitor_spawn", "runc_create"}) {
    SCOPED_TRACE(step);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t holder = fork();
    if (holder == 0) {
      close(fds[0]);
      BlockAt faults(step, fds[1]);
      RuncRuntimeOptions o = options;
      o.faults = &faults;
      auto rt = RuncRuntime::Open(o);
      if (!rt.ok()) _exit(1);
      (void)(*rt)->Create(Spec("half", {"/bin/sleep", "1000"}));
      _exit(3);
    }
    close(fds[1]);
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1) << "the child never reached " << step;
    close(fds[0]);
    Kill9(holder);

    auto rt = OpenRuntime(options);
    ASSERT_NE(rt, nullptr);
    EXPECT_THAT(rt->recovery().rolled_back, ::testing::ElementsAre("half"));
    EXPECT_THAT(world_.Leaks(), IsEmpty());
  }
}

TEST_F(RuntimeE2eTest, RecoveryRemovesOrphans) {
  runtime_.reset();
  const RuncRuntimeOptions options = world_.RuntimeOptions();
  // A directory with no record, one whose name Berth would never make, and a
  // runc container in Berth's root with no directory at all.
  {
    auto rt = OpenRuntime(options);
    ASSERT_TRUE(rt->Create(Spec("ghost", {"/bin/sleep", "1000"})).ok());
    ASSERT_TRUE(rt->Start("ghost").ok());
  }
  ASSERT_TRUE(MakeDirs(options.state_dir + "/stray/bundle").ok());
  ASSERT_TRUE(MakeDirs(options.state_dir + "/Not_A_Name").ok());
  // Lose the record, but not the mount, the monitor or runc's state.
  ASSERT_EQ(unlink((options.state_dir + "/ghost/state.json").c_str()), 0);

  runtime_ = OpenRuntime(options);
  ASSERT_NE(runtime_, nullptr);
  EXPECT_THAT(runtime_->recovery().orphans_removed,
              ::testing::UnorderedElementsAre("stray", "Not_A_Name", "ghost"));
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  EXPECT_THAT(world_.Leaks(), IsEmpty());
}

}  // namespace
}  // namespace berth::runtime
