// Lifecycle hooks end to end: the real berthd on a manifests directory,
// real runc, the busybox image, hooks run by the real ActionRunner (exec in
// the container). Observed through the container's log, files the hooks
// write into a hostPath mount, status files and berthd's log.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(30);

// A manifest "web" running `script` (sh -c), with `extra` appended to its
// spec.
std::string Manifest(const std::string& script, const std::string& extra) {
  return absl::StrCat(
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: web\n"
      "spec:\n  image: busybox\n  command: [\"sh\", \"-c\", ",
      json(script).dump(), "]\n", extra);
}

// `lifecycle:` with one exec hook per non-empty script.
std::string Hooks(const std::string& post_start, const std::string& pre_stop) {
  std::string out = "  lifecycle:\n";
  if (!post_start.empty()) {
    absl::StrAppend(&out, "    postStart:\n      exec:\n        command: [\"sh\", \"-c\", ",
                    json(post_start).dump(), "]\n");
  }
  if (!pre_stop.empty()) {
    absl::StrAppend(&out, "    preStop:\n      exec:\n        command: [\"sh\", \"-c\", ",
                    json(pre_stop).dump(), "]\n");
  }
  return out;
}

// Lines of the container log (CRI format: "<RFC 3339 time> stdout F <text>")
// with their times.
struct LogLine {
  absl::Time time;
  std::string text;
};

std::vector<LogLine> ParseLog(const std::string& log) {
  std::vector<LogLine> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (parts.size() != 4) continue;
    LogLine l;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, std::string(parts[0]), &l.time, &err)) continue;
    l.text = std::string(parts[3]);
    lines.push_back(std::move(l));
  }
  return lines;
}

class HooksE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = world_.dir() + "/manifests";
    shared_ = world_.dir() + "/shared";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(runtime::MakeDirs(shared_).ok());
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
  }

  void TearDown() override {
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << Log();
  }

  void StartBerthd(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {BERTH_BERTHD_PATH,
                                     "--manifests-dir=" + manifests_,
                                     "--images-dir=" + world_.dir() + "/images",
                                     "--relist-period=100ms",
                                     "--resync-period=2s",
                                     "--restart-backoff-initial=300ms",
                                     "--restart-backoff-max=5s",
                                     "--workers=2"};
    for (std::string& f : ::berth::testing::BerthdTestFlags(world_)) argv.push_back(std::move(f));
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  }

  std::string Log() const { return runtime::ReadFile(world_.dir() + "/berthd.log").value_or(""); }
  std::string ContainerLog() const {
    return runtime::ReadFile(world_.state_dir() + "/default.web/container.log").value_or("");
  }
  // The hostPath mount hooks write into, at /shared in the container.
  std::string SharedMount() const {
    return absl::StrCat("  mounts:\n  - mountPath: /shared\n    hostPath: {path: ", shared_, "}\n");
  }
  // Lines of a file in the shared directory.
  int Lines(const std::string& name) const {
    std::string text = runtime::ReadFile(shared_ + "/" + name).value_or("");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  void Write(const std::string& content) {
    berth::testing::WriteManifestFile(manifests_, "web.yaml", content);
  }
  void Remove() { ASSERT_EQ(unlink((manifests_ + "/web.yaml").c_str()), 0); }
  json Status() const {
    return berth::testing::ReadStatusFile(world_.berth_state_dir(), "default.web");
  }
  template <typename Pred>
  json WaitStatus(Pred pred) {
    return berth::testing::WaitStatusFile(world_.berth_state_dir(), "default.web", pred, kWait);
  }
  bool Gone() const {
    return Status().is_null() && access((world_.state_dir() + "/default.web").c_str(), F_OK) != 0;
  }

  TestWorld world_;
  std::string manifests_;
  std::string shared_;
  berth::testing::OwnedProcess berthd_;
};

// The preStop hook writes to the container's stdout (PID 1's) and takes a
// second; the container prints when the stop signal reaches it, and takes a
// second to exit. The log shows the hook's line first, a second before.
TEST_F(HooksE2eTest, PreStopOutputComesBeforeTheStopSignal) {
  StartBerthd();
  Write(
      Manifest("trap 'echo got-term; sleep 1; exit 0' TERM; echo ready; "
               "while true; do sleep 0.1; done",
               "  terminationGracePeriodSeconds: 20\n" +
                   Hooks("", "echo prestop-ran > /proc/1/fd/1; sleep 1")));
  WaitStatus(berth::testing::IsRunning);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(ContainerLog(), "ready"); }, kWait));
  Remove();
  std::string log;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string now = ContainerLog();
        if (!now.empty()) log = now;
        return absl::StrContains(log, "got-term");
      },
      kWait))
      << log;
  absl::Time hook = absl::InfinitePast(), term = absl::InfinitePast();
  for (const LogLine& l : ParseLog(log)) {
    if (l.text == "prestop-ran") hook = l.time;
    if (l.text == "got-term") term = l.time;
  }
  ASSERT_NE(hook, absl::InfinitePast()) << log;
  EXPECT_GE(term - hook, absl::Milliseconds(900)) << log;
  ASSERT_TRUE(WaitFor([&] { return Gone(); }, kWait));
}

// A container that ignores SIGTERM, a grace period of 6 s and a preStop of
// 3 s: the signal gets the 3 s left, then SIGKILL; about 6 s in all, not
// the 9 s of a grace period counted after the hook.
TEST_F(HooksE2eTest, PreStopTimeComesOutOfTheGracePeriod) {
  StartBerthd();
  Write(Manifest("trap '' TERM; echo ready; while true; do sleep 0.1; done",
                 "  terminationGracePeriodSeconds: 6\n" +
                     Hooks("", "echo prestop-ran > /proc/1/fd/1; sleep 3")));
  WaitStatus(berth::testing::IsRunning);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(ContainerLog(), "ready"); }, kWait));
  const absl::Time began = absl::Now();
  Remove();
  ASSERT_TRUE(WaitFor([&] { return Gone(); }, kWait));
  const absl::Duration took = absl::Now() - began;
  EXPECT_GE(took, absl::Milliseconds(5500));
  EXPECT_LT(took, absl::Milliseconds(8500)) << "the grace period was counted after the hook";
  EXPECT_THAT(Log(), HasSubstr("running preStop hook (grace period 6s)"));
}

// A postStart that fails the first time: FailedPostStartHook, the container
// stopped and restarted (restartPolicy Always); the second start's hook
// passes and the container runs.
TEST_F(HooksE2eTest, FailedPostStartStopsTheContainerWhichRestarts) {
  StartBerthd();
  Write(Manifest("trap 'exit 0' TERM; while true; do sleep 0.1; done",
                 SharedMount() + Hooks("echo run >> /shared/post-start; "
                                       "if [ -e /shared/warm ]; then exit 0; fi; "
                                       "touch /shared/warm; echo not warm yet; exit 3",
                                       "")));
  json s = WaitStatus([](const json& s) {
    return berth::testing::IsRunning(s) && s.value("restartCount", 0) == 1;
  });
  EXPECT_EQ(s["lastState"]["exitCode"], 0) << "it exits 0 on SIGTERM: " << s.dump();
  EXPECT_EQ(Lines("post-start"), 2);
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("FailedPostStartHook: PostStart hook failed: not warm yet"));
}

// berthd killed (kill -9) while a postStart runs, and again while a preStop
// runs: the berthd after it runs neither a second time.
TEST_F(HooksE2eTest, HooksSurviveKill9WithoutDuplicateRuns) {
  StartBerthd();
  Write(Manifest("trap 'exit 0' TERM; while true; do sleep 0.1; done",
                 "  terminationGracePeriodSeconds: 30\n" + SharedMount() +
                     Hooks("echo run >> /shared/post-start; sleep 3",
                           "echo run >> /shared/pre-stop; sleep 3")));
  ASSERT_TRUE(WaitFor([&] { return Lines("post-start") == 1; }, kWait));
  berthd_.Stop(SIGKILL);
  StartBerthd();
  json s = WaitStatus(berth::testing::IsRunning);
  EXPECT_EQ(s.value("restartCount", 0), 0);
  absl::SleepFor(absl::Seconds(4));  // relists and resyncs; the hook's 3 s
  EXPECT_EQ(Lines("post-start"), 1) << "postStart ran again";
  EXPECT_EQ(Status()["pid"], s["pid"]);

  Remove();
  ASSERT_TRUE(WaitFor([&] { return Lines("pre-stop") == 1; }, kWait));
  berthd_.Stop(SIGKILL);
  StartBerthd();
  ASSERT_TRUE(WaitFor([&] { return Gone(); }, kWait));
  EXPECT_EQ(Lines("pre-stop"), 1) << "preStop ran again";
  EXPECT_THAT(Log(), HasSubstr("preStop hook began before; not run again"));
}

// --stop-on-exit: a SIGTERM to berthd stops the containers, each with its
// preStop first.
TEST_F(HooksE2eTest, StopOnExitRunsPreStop) {
  StartBerthd({"--stop-on-exit"});
  Write(Manifest("trap 'exit 0' TERM; while true; do sleep 0.1; done",
                 SharedMount() + Hooks("", "echo run >> /shared/pre-stop")));
  WaitStatus(berth::testing::IsRunning);
  const int status = berthd_.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(Lines("pre-stop"), 1);
  EXPECT_TRUE(Gone());
}

}  // namespace
}  // namespace berth
