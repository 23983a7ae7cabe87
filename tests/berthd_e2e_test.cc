// berthd end to end: the real binary on a manifests directory, real runc,
// a busybox image. Observed through its status files, its log and the
// processes themselves; every test checks for leaks afterwards.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "controller/spec/node_container.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

extern char** environ;

namespace berth {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(20);

std::string Manifest(const std::string& name, const std::string& command,
                     const std::string& extra_spec = "", const std::string& extra_meta = "") {
  return absl::StrCat(
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ", name, "\n",
      extra_meta, "spec:\n  image: busybox\n  command: [\"sh\", \"-c\", ", json(command).dump(),
      "]\n", extra_spec);
}

// A container that exits with 0 on SIGTERM, printing `word` every 100 ms.
std::string Polite(const std::string& word) {
  return absl::StrCat("trap 'exit 0' TERM; while true; do echo ", word, "; sleep 0.1; done");
}

class BerthdE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = world_.dir() + "/manifests";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
  }

  void TearDown() override {
    StopBerthd(SIGKILL);
    // Clean up what berthd left running, then look for leaks.
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << Log();
  }

  // Where this test's berthd keeps things; every other flag at its default,
  // but the metrics port: many berthd run at once (metrics_default_port_e2e_test
  // has the test that takes the default port).
  std::vector<std::string> DefaultFlags() const {
    std::vector<std::string> flags = {BERTH_BERTHD_PATH, "--manifests-dir=" + manifests_,
                                      "--images-dir=" + world_.dir() + "/images"};
    for (std::string& f : berth::testing::BerthdTestFlags(world_)) flags.push_back(std::move(f));
    return flags;
  }

  std::vector<std::string> Flags() const {
    std::vector<std::string> flags = DefaultFlags();
    for (const char* f :
         {"--relist-period=100ms", "--resync-period=2s", "--restart-backoff-initial=300ms",
          "--restart-backoff-max=5s", "--workers=2"}) {
      flags.push_back(f);
    }
    return flags;
  }

  pid_t Spawn(std::vector<std::string> argv) {
    const std::string log = world_.dir() + "/berthd.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }

  void StartBerthd(std::vector<std::string> extra = {}) {
    StartBerthdWith(Flags(), std::move(extra));
  }

  void StartBerthdWith(std::vector<std::string> argv, std::vector<std::string> extra = {}) {
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  }

  // Returns berthd's exit status.
  int StopBerthd(int signal) { return berthd_.Stop(signal); }

  std::string Log() const { return runtime::ReadFile(world_.dir() + "/berthd.log").value_or(""); }

  // Waits until berthd number `n` (counting from 1) of this test has
  // finished starting up.
  void WaitForStart(int n) {
    ASSERT_TRUE(WaitFor([&] { return berthd_.CountInLog("adopted") >= n; }, kWait))
        << "berthd #" << n << " did not start:\n"
        << Log();
  }

  void Write(const std::string& file, const std::string& content) {
    berth::testing::WriteManifestFile(manifests_, file, content);
  }

  json Status(const std::string& id) const {
    return berth::testing::ReadStatusFile(world_.berth_state_dir(), id);
  }

  // Waits until the status of `id` satisfies `pred`; returns the last status.
  template <typename Pred>
  json WaitStatus(const std::string& id, Pred pred, absl::Duration timeout = kWait) {
    return berth::testing::WaitStatusFile(world_.berth_state_dir(), id, pred, timeout);
  }

  json WaitRunning(const std::string& id) { return WaitStatus(id, berth::testing::IsRunning); }

  // Waits until berthd rewrote the status file of `id` after `since` (a new
  // berthd writes each one once it has reconciled it).
  void WaitForStatusWrittenAfter(const std::string& id, absl::Time since) {
    berth::testing::WaitStatusFileWrittenAfter(world_.berth_state_dir(), id, since, kWait);
  }

  static bool Alive(int pid) { return kill(pid, 0) == 0 && runtime::ProcessStartTime(pid) != 0; }

  TestWorld world_;
  std::string manifests_;
  berth::testing::OwnedProcess berthd_;
};

TEST_F(BerthdE2eTest, AddEditLabelEditCommandDeleteFile) {
  StartBerthd();
  Write("web.yaml", Manifest("web", Polite("one"), "  terminationGracePeriodSeconds: 20\n",
                             "  generation: 1\n  labels: {app: web}\n"));
  json first = WaitRunning("default.web");
  const int pid = first["pid"];
  EXPECT_TRUE(Alive(pid));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto log = runtime::ReadFile(world_.state_dir() + "/default.web/container.log");
        return log.ok() && absl::StrContains(*log, "stdout F one");
      },
      kWait));

  // A label: the same container goes on.
  Write("web.yaml", Manifest("web", Polite("one"), "  terminationGracePeriodSeconds: 20\n",
                             "  generation: 2\n  labels: {app: web, tier: front}\n"));
  json relabeled =
      WaitStatus("default.web", [](const json& s) { return s["observedGeneration"] == 2; });
  EXPECT_EQ(relabeled["pid"], pid) << "a label change recreated the container";
  absl::SleepFor(absl::Milliseconds(500));  // a few relists later, still the same
  EXPECT_EQ(Status("default.web")["pid"], pid);

  // The command: a new container.
  Write("web.yaml", Manifest("web", Polite("two"), "  terminationGracePeriodSeconds: 20\n",
                             "  generation: 3\n"));
  json recreated = WaitStatus("default.web", [&](const json& s) {
    return s["phase"] == "Running" && s.contains("pid") && s["pid"] != pid;
  });
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(recreated["restartCount"], 0);

  // Deleting the file stops it (SIGTERM, well within its grace period) and
  // removes it.
  const absl::Time begin = absl::Now();
  ASSERT_EQ(unlink((manifests_ + "/web.yaml").c_str()), 0);
  ASSERT_TRUE(WaitFor([&] { return Status("default.web").is_null(); }, kWait));
  ASSERT_TRUE(WaitFor(
      [&] { return access((world_.state_dir() + "/default.web").c_str(), F_OK) != 0; }, kWait));
  EXPECT_LT(absl::Now() - begin, absl::Seconds(20)) << "waited for the whole grace period";
  EXPECT_FALSE(Alive(recreated["pid"]));
}

TEST_F(BerthdE2eTest, BrokenFileKeepsItsContainersAndOthersWork) {
  StartBerthd();
  Write("a.yaml", Manifest("a", Polite("a")));
  Write("b.yaml", Manifest("b", Polite("b")));
  const int a = WaitRunning("default.a")["pid"];
  const int b = WaitRunning("default.b")["pid"];

  // b.yaml breaks: an error naming the file and line; nothing is touched.
  Write("b.yaml",
        "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: b\n"
        "spec:\n  image: busybox\n  command: [sh, -c\n");
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(Log(), manifests_ + "/b.yaml:"); }, kWait));
  // A file with an invalid name and a file that is not YAML at all.
  Write("c.yaml", Manifest("../x", "true"));
  Write("d.yaml", "\x01\x02 not yaml \xff");
  Write("e.yaml", Manifest("e", Polite("e")));
  WaitRunning("default.e");
  absl::SleepFor(absl::Seconds(1));  // relists and a resync pass
  EXPECT_EQ(Status("default.a")["pid"], a);
  EXPECT_EQ(Status("default.b")["pid"], b);
  EXPECT_TRUE(Alive(a));
  EXPECT_TRUE(Alive(b));
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr(manifests_ + "/c.yaml:"));
  EXPECT_THAT(log, HasSubstr("metadata.name"));
  EXPECT_THAT(log, HasSubstr(manifests_ + "/d.yaml"));

  // berthd restarts (kill -9) while b.yaml is still broken: b keeps running.
  StopBerthd(SIGKILL);
  StartBerthd();
  WaitForStart(2);
  absl::SleepFor(absl::Seconds(1));  // relists, a resync and reconciles of all
  EXPECT_TRUE(Alive(b)) << "a broken manifest's container was removed after a restart";
  EXPECT_TRUE(Alive(a));

  // Fixing the file takes effect (here: a new command, so a new container).
  Write("b.yaml", Manifest("b", Polite("b2")));
  WaitStatus("default.b", [&](const json& s) { return s["phase"] == "Running" && s["pid"] != b; });
}

TEST_F(BerthdE2eTest, CrashingCommandRestartsWithGrowingBackoff) {
  StartBerthd();
  Write("crash.yaml", Manifest("crash", "echo crashing; exit 3"));
  std::vector<absl::Time> restarts;
  int last = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        json s = Status("default.crash");
        if (s.is_null()) return false;
        int n = s["restartCount"];
        if (n != last) {
          restarts.push_back(absl::Now());
          last = n;
        }
        return n >= 5;
      },
      absl::Seconds(40)));
  ASSERT_GE(restarts.size(), 5u);
  // kubelet's curve with 300 ms: the first exit restarted at once, then
  // 300 ms, 600 ms, 1.2 s, 2.4 s: the gaps grow by about the previous delay.
  const absl::Duration g1 = restarts[1] - restarts[0];
  const absl::Duration g4 = restarts[4] - restarts[3];
  EXPECT_GT(g4, g1 + absl::Seconds(1)) << "g1=" << g1 << " g4=" << g4;
  json s = WaitStatus("default.crash", [](const json& s) { return s.contains("lastState"); });
  EXPECT_EQ(s["lastState"]["exitCode"], 3);
  EXPECT_THAT(Log(), ::testing::Not(HasSubstr(" E ")));
}

TEST_F(BerthdE2eTest, Kill9OfBerthdWithTwentyContainersAdoptsThemAll) {
  std::string many;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&many, i > 0 ? "---\n" : "",
                    Manifest(absl::StrCat("svc-", i), "exec sleep 1000"));
  }
  Write("many.yaml", many);
  StartBerthd();
  std::map<std::string, int> pids;
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("default.svc-", i);
    pids[id] = WaitRunning(id)["pid"];
  }
  StopBerthd(SIGKILL);
  for (const auto& [id, pid] : pids) EXPECT_TRUE(Alive(pid)) << id << " died with berthd";

  const size_t log_before = Log().size();
  const absl::Time restart = absl::Now();
  StartBerthd();
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(Log(), "20 container(s) adopted"); }, kWait))
      << Log();
  for (const auto& [id, pid] : pids) WaitForStatusWrittenAfter(id, restart);
  const std::string second = Log().substr(log_before);
  EXPECT_THAT(second, ::testing::Not(HasSubstr("recreate container")));
  EXPECT_THAT(second, ::testing::Not(HasSubstr("delete container")));
  EXPECT_THAT(second, ::testing::Not(HasSubstr("started container")));
  for (const auto& [id, pid] : pids) {
    json s = Status(id);
    EXPECT_EQ(s["pid"], pid) << id << " was restarted";
    EXPECT_EQ(s["phase"], "Running") << id;
    EXPECT_EQ(s["restartCount"], 0) << id;
    EXPECT_TRUE(Alive(pid)) << id;
  }
}

TEST_F(BerthdE2eTest, ContainerKilledFromOutsideIsRestartedOrReported) {
  StartBerthd();
  Write("always.yaml", Manifest("always", "exec sleep 1000"));
  Write("never.yaml", Manifest("never", "exec sleep 1000", "  restartPolicy: Never\n"));
  const int always = WaitRunning("default.always")["pid"];
  const int never = WaitRunning("default.never")["pid"];
  kill(always, SIGKILL);
  kill(never, SIGKILL);
  json a = WaitStatus("default.always", [&](const json& s) {
    return s["phase"] == "Running" && s.contains("pid") && s["pid"] != always;
  });
  EXPECT_EQ(a["restartCount"], 1);
  EXPECT_EQ(a["lastState"]["exitCode"], 137);
  json n = WaitStatus("default.never", [](const json& s) { return s["phase"] == "Failed"; });
  EXPECT_EQ(n["exitCode"], 137);
  EXPECT_EQ(n["reason"], "Error");
}

TEST_F(BerthdE2eTest, SigtermLeavesContainersRunningUnlessStopOnExit) {
  Write("web.yaml", Manifest("web", Polite("x"), "  terminationGracePeriodSeconds: 30\n"));
  StartBerthd();
  const int pid = WaitRunning("default.web")["pid"];
  int status = StopBerthd(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(Alive(pid));

  // A second berthd on the same state directory is refused while one runs.
  const absl::Time restart = absl::Now();
  StartBerthd({"--stop-on-exit"});
  WaitForStart(2);
  WaitForStatusWrittenAfter("default.web", restart);
  EXPECT_EQ(Status("default.web")["pid"], pid);
  pid_t second = Spawn(Flags());
  int second_status = 0;
  waitpid(second, &second_status, 0);
  EXPECT_TRUE(WIFEXITED(second_status) && WEXITSTATUS(second_status) == 1);
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("another berthd (pid ", berthd_.pid(), ")")));

  const absl::Time begin = absl::Now();
  status = StopBerthd(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(Alive(pid));
  EXPECT_LT(absl::Now() - begin, absl::Seconds(30)) << "the polite container waited for SIGKILL";
  EXPECT_TRUE(Status("default.web").is_null()) << "a stopped container's status was left behind";
  EXPECT_THAT(world_.Leaks(), IsEmpty());
}

TEST_F(BerthdE2eTest, DryRunPrintsThePlanAndChangesNothing) {
  Write("web.yaml", Manifest("web", "exec sleep 1000"));
  std::vector<std::string> argv = Flags();
  argv.push_back("--dry-run");
  pid_t p = Spawn(argv);
  int status = 0;
  waitpid(p, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_THAT(Log(), ::testing::ContainsRegex("create +default\\.web"));
  EXPECT_THAT(world_.Leaks(), IsEmpty());
  EXPECT_NE(access((world_.berth_state_dir() + "/berthd.lock").c_str(), F_OK), 0)
      << "a dry run took the lock";
}

TEST_F(BerthdE2eTest, RootfsModeCopyRunsContainersOnCopiesAndBadModesAreRefused) {
  std::vector<std::string> argv = Flags();
  argv.push_back("--rootfs-mode=squashfs");
  pid_t p = Spawn(argv);
  int status = 0;
  waitpid(p, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_THAT(Log(), HasSubstr("rootfs mode \"squashfs\""));

  StartBerthd({"--rootfs-mode=copy"});
  Write("web.yaml", Manifest("web", Polite("copied")));
  WaitRunning("default.web");
  const std::string rootfs = world_.state_dir() + "/default.web/bundle/rootfs";
  EXPECT_FALSE(runtime::IsMountPoint(rootfs));
  struct stat st;
  EXPECT_EQ(lstat((rootfs + "/bin/busybox").c_str(), &st), 0) << "the image copied in";
  ASSERT_EQ(unlink((manifests_ + "/web.yaml").c_str()), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        return access(world_.state_dir().c_str(), F_OK) == 0 &&
               access((world_.state_dir() + "/default.web").c_str(), F_OK) != 0;
      },
      kWait));
}

TEST_F(BerthdE2eTest, ImageGcThresholdsOutOfOrderAreRefused) {
  std::vector<std::string> argv = Flags();
  argv.insert(argv.end(), {"--image-gc-high-threshold=70", "--image-gc-low-threshold=75"});
  pid_t p = Spawn(argv);
  int status = 0;
  waitpid(p, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "wait status " << status;
  EXPECT_THAT(Log(), HasSubstr("--image-gc-low-threshold=75 and --image-gc-high-threshold=70: "
                               "want 0 <= low <= high <= 100"));
}

TEST_F(BerthdE2eTest, StatusOfAContainerGoneWhileBerthdWasDownIsRemoved) {
  Write("web.yaml", Manifest("web", "exec sleep 1000", "  stopSignal: SIGKILL\n"));
  StartBerthd();
  WaitRunning("default.web");
  StopBerthd(SIGKILL);
  // The manifest goes, and so does the container, while no berthd runs.
  ASSERT_EQ(unlink((manifests_ + "/web.yaml").c_str()), 0);
  {
    auto rt = runtime::RuncRuntime::Open(world_.RuntimeOptions());
    ASSERT_TRUE(rt.ok());
    ASSERT_TRUE((*rt)->Delete("default.web").ok());
  }
  ASSERT_FALSE(Status("default.web").is_null());
  StartBerthd();
  EXPECT_TRUE(WaitFor([&] { return Status("default.web").is_null(); }, kWait))
      << "a stale status file says " << Status("default.web").dump();
}

TEST_F(BerthdE2eTest, TruncatedManifestKeepsItsContainer) {
  Write("web.yaml", Manifest("web", Polite("x")));
  StartBerthd();
  const int pid = WaitRunning("default.web")["pid"];
  // Truncated in place, as a shell redirect does before the writer writes.
  ASSERT_EQ(truncate((manifests_ + "/web.yaml").c_str(), 0), 0);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(Log(), "no NodeContainer"); }, kWait));
  absl::SleepFor(absl::Milliseconds(500));  // relists and reconciles
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(Status("default.web")["pid"], pid);
}

// A manifest that is a symlink to a file outside the directory (here one of
// /etc/shadow's form) is refused unread: an error naming the link, none of
// the file's lines in the log, and the other manifests run. A FIFO named like
// a manifest is reported once and never opened. berthd with default flags.
TEST_F(BerthdE2eTest, SymlinkOutOfTheDirectoryIsRefusedAndNothingOfItIsLogged) {
  const std::vector<std::string> lines = {
      "root:$6$Qx7vP2mW$T1s9Kd0uZ8bYp3LrVf6NcEa4HgJw5XiOq2MnBy7Rt1Us0Vk9Lz3Pa8Dc6:19000:0:99999:7::"
      ":",
      "daemon:*:19000:0:99999:7:::",
      "alice:$y$j9T$Fh3Ks8Lq2Wn6Pb1Vz$Gx0Rc5Tm7Yd9Ue4Ji2Oa8Se6Dk3Fl1Hq5Zw9Xv7Nb4:19500:0:99999:7::"
      ":"};
  const std::string secret = world_.dir() + "/shadow";
  ASSERT_TRUE(runtime::WriteFileAtomic(secret, absl::StrJoin(lines, "\n") + "\n").ok());
  Write("a.yaml", Manifest("a", Polite("a")));
  ASSERT_EQ(symlink(secret.c_str(), (manifests_ + "/leak.yaml").c_str()), 0);
  ASSERT_EQ(mkfifo((manifests_ + "/pipe.yaml").c_str(), 0600), 0);
  ASSERT_TRUE(berthd_.Start(DefaultFlags(), world_.dir() + "/berthd.log").ok());
  const int a = WaitRunning("default.a")["pid"];
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(Log(), manifests_ + "/leak.yaml"); }, kWait));
  // Added while the link is there.
  Write("b.yaml", Manifest("b", Polite("b")));
  WaitRunning("default.b");
  EXPECT_EQ(Status("default.a")["pid"], a);

  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("read manifest " + manifests_ + "/leak.yaml: a symlink to \"" +
                             secret + "\", outside the manifests directory"));
  EXPECT_THAT(log, HasSubstr("read manifest " + manifests_ + "/pipe.yaml: a FIFO"));
  EXPECT_EQ(berthd_.CountInLog("read manifest " + manifests_ + "/leak.yaml"), 1);
  EXPECT_EQ(berthd_.CountInLog("read manifest " + manifests_ + "/pipe.yaml"), 1);
  // No line, no user name (but "root", found in "rootfs"), no part of a hash.
  for (const std::string& line : lines) {
    EXPECT_THAT(log, Not(HasSubstr(line)));
    for (absl::string_view field : absl::StrSplit(line, absl::ByAnyChar(":$"))) {
      if (field.size() >= 5 && !std::all_of(field.begin(), field.end(), absl::ascii_isdigit)) {
        EXPECT_THAT(log, Not(HasSubstr(std::string(field.substr(0, 8)))));
      }
    }
  }
}

// The API allows a name of 253 characters with parts longer than 63; it runs
// under a mapped id (ContainerIdFor), which its status file shows next to
// its real name, and keeps that id across a restart of berthd.
TEST_F(BerthdE2eTest, LongNameRunsUnderItsMappedId) {
  const std::string part = "metrics-" + std::string(92, 'm');  // 100 characters
  std::string name = "collector." + part + ".";
  name += std::string(220 - name.size(), 'z');
  ASSERT_EQ(name.size(), 220u);
  controller::ObjectMeta meta;
  meta.name = name;
  const std::string id = controller::ContainerIdFor(meta);
  ASSERT_NE(id, "default." + name);
  Write("long.yaml", Manifest(name,
                              "echo host=$(hostname); trap 'exit 0' TERM; "
                              "while true; do sleep 0.1; done"));
  ASSERT_TRUE(berthd_.Start(DefaultFlags(), world_.dir() + "/berthd.log").ok());
  json status = WaitRunning(id);
  EXPECT_EQ(status["namespace"], "default");
  EXPECT_EQ(status["name"], name);
  EXPECT_EQ(status["containerID"], id);
  const int pid = status["pid"];
  EXPECT_TRUE(Alive(pid));
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("started container ", id, " (NodeContainer default/",
                                            name, ")")));
  EXPECT_THAT(Log(), ::testing::Not(HasSubstr("label longer than 63")));
  // Its hostname: the name's first part.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto log = runtime::ReadFile(world_.state_dir() + "/" + id + "/container.log");
        return log.ok() && absl::StrContains(*log, "host=collector");
      },
      kWait))
      << runtime::ReadFile(world_.state_dir() + "/" + id + "/container.log").value_or("");

  // A new berthd adopts it under the same id.
  StopBerthd(SIGKILL);
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(berthd_.Start(DefaultFlags(), world_.dir() + "/berthd.log").ok());
  WaitForStatusWrittenAfter(id, restarted);
  EXPECT_EQ(Status(id)["pid"], pid);
  EXPECT_TRUE(Alive(pid));

  // Deleting the manifest removes the container and its status.
  ASSERT_EQ(unlink((manifests_ + "/long.yaml").c_str()), 0);
  EXPECT_TRUE(WaitFor([&] { return Status(id).is_null(); }, kWait)) << Status(id).dump();
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, kWait));
}

TEST_F(BerthdE2eTest, JsonLogsAreOneObjectPerLine) {
  Write("bad.yaml",
        "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata: {name: \"x\\\"y\"}\n");
  StartBerthd({"--log-format=json"});
  WaitForStart(1);
  StopBerthd(SIGTERM);
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(Log(), '\n', absl::SkipEmpty())) {
    json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    ++lines;
  }
  EXPECT_GE(lines, 2);
  EXPECT_THAT(Log(), HasSubstr("bad.yaml:3:"));
}

int RestartCount(const json& status) {
  return status.is_object() ? status.value("restartCount", -1) : -1;
}

// A program that exits the moment it starts, with berthd's default flags
// (all of them): it is restarted on kubelet's CrashLoopBackOff curve (the
// first exit at once, then 10 s, then 20 s), not once a resync, and while
// it waits its status says so, never Running. The first exit has no
// back-off: never CrashLoopBackOff before the first restart.
TEST_F(BerthdE2eTest, AnInstantCrashFollowsTheBackOffCurveWithDefaultFlags) {
  StartBerthdWith(DefaultFlags());
  const absl::Time written = absl::Now();
  Write("crash.yaml", Manifest("crash", "exit 3"));
  bool backed_off_before_first_restart = false;
  json first = WaitStatus(
      "default.crash",
      [&](const json& s) {
        if (s.value("restartCount", -1) <= 0 && s.value("phase", "") == "CrashLoopBackOff") {
          backed_off_before_first_restart = true;
        }
        return s.value("restartCount", -1) >= 1;
      },
      absl::Seconds(8));
  const absl::Time first_at = absl::Now();
  ASSERT_EQ(RestartCount(first), 1) << "the first exit is restarted at once";
  EXPECT_FALSE(backed_off_before_first_restart);
  EXPECT_LT(first_at - written, absl::Seconds(5)) << "the first restart waited";
  // The restarted instance exits at once too: its back-off is reported, with
  // its exit code, as soon as the exit happened.
  json waiting = WaitStatus(
      "default.crash",
      [](const json& s) {
        return s.value("restartCount", -1) == 1 && s.value("phase", "") == "CrashLoopBackOff";
      },
      absl::Seconds(3));
  EXPECT_EQ((waiting.is_object() ? waiting.value("phase", "") : ""), "CrashLoopBackOff")
      << waiting.dump();
  EXPECT_EQ((waiting.is_object() ? waiting.value("exitCode", -1) : -1), 3) << waiting.dump();
  json second = WaitStatus(
      "default.crash", [](const json& s) { return s.value("restartCount", -1) >= 2; },
      absl::Seconds(20));
  const absl::Time second_at = absl::Now();
  ASSERT_EQ(RestartCount(second), 2) << "restart 2 comes 10 s after restart 1";
  EXPECT_GE(second_at - first_at, absl::Seconds(9)) << "restart 2 before its 10 s back-off";
  json third = WaitStatus(
      "default.crash", [](const json& s) { return s.value("restartCount", -1) >= 3; },
      absl::Seconds(30));
  EXPECT_EQ(RestartCount(third), 3) << "restart 3 comes 20 s after restart 2";
  EXPECT_GE(absl::Now() - second_at, absl::Seconds(19)) << "restart 3 before its 20 s back-off";
}

// The same curve with a short back-off (the relist and resync at their
// defaults): every restart is on time, however fast the crash.
TEST_F(BerthdE2eTest, AnInstantCrashIsRestartedOnEveryStepOfAShortBackOff) {
  StartBerthdWith(DefaultFlags(), {"--restart-backoff-initial=1s", "--restart-backoff-max=4s"});
  Write("crash.yaml", Manifest("crash", "exit 3"));
  const absl::Time began = absl::Now();
  // 0 + 1 + 2 + 4 + 4 s of back-off (the first exit restarted at once):
  // five restarts well before the first resync (60 s).
  json fifth = WaitStatus(
      "default.crash", [](const json& s) { return s.value("restartCount", -1) >= 5; },
      absl::Seconds(40));
  EXPECT_GE(RestartCount(fifth), 5) << fifth.dump();
  EXPECT_GE(absl::Now() - began, absl::Seconds(10)) << "restarted faster than the back-off";
}

// kubelet's events for an image it does not pull: no Pulling, and Pulled
// says it is present (a directory image is never pulled, whatever the
// policy; busybox without a tag means Always).
TEST_F(BerthdE2eTest, ADirectoryImageIsAlreadyPresentNeverPulling) {
  StartBerthdWith(DefaultFlags(), {"--log-level=debug"});
  Write("web.yaml", Manifest("web", Polite("web")));
  WaitRunning("default.web");
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("default.web: Pulled: Container image \"busybox\" already present "
                             "on machine"));
  EXPECT_THAT(log, Not(HasSubstr("Pulling")));
}

// systemd's end of Type=notify: a datagram socket, with the sender's
// credentials as systemd reads them (NotifyAccess=main trusts only the
// service's main pid).
class NotifySocket {
 public:
  struct Message {
    std::string text;
    pid_t pid = -1;
  };

  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    const int on = 1;
    bound_ = fd_.valid() && path.size() < sizeof addr.sun_path &&
             bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
             setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0;
  }
  ~NotifySocket() { unlink(path_.c_str()); }
  bool bound() const { return bound_; }

  // The next datagram within `timeout`; text "<none>" if none came.
  Message Next(absl::Duration timeout) {
    pollfd p = {fd_.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return {"<none>"};
    char buf[4096];
    iovec iov = {buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n < 0) return {"<none>"};
    Message m{std::string(buf, n)};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        m.pid = cred.pid;
      }
    }
    return m;
  }

 private:
  std::string path_;
  runtime::UniqueFd fd_;
  bool bound_ = false;
};

// Under systemd (Type=notify) berthd says READY=1 once it has recovered the
// containers, started the controller and read the manifests directory, and
// STOPPING=1 on SIGTERM; no container sees NOTIFY_SOCKET.
TEST_F(BerthdE2eTest, TellsSystemdReadyAfterRecoveryAndTheManifestsAndStoppingOnSigterm) {
  Write("a.yaml", Manifest("a", "env; " + Polite("a")));
  Write("b.yaml", Manifest("b", Polite("b")));
  NotifySocket systemd(world_.dir() + "/notify.sock");
  ASSERT_TRUE(systemd.bound());
  ASSERT_EQ(setenv("NOTIFY_SOCKET", (world_.dir() + "/notify.sock").c_str(), 1), 0);
  StartBerthdWith(DefaultFlags());
  NotifySocket::Message ready = systemd.Next(kWait);
  EXPECT_EQ(ready.text,
            "READY=1\nSTATUS=running: 2 NodeContainer(s) known, 0 container(s) adopted");
  EXPECT_EQ(ready.pid, berthd_.pid()) << "systemd takes READY=1 from the main pid only";
  EXPECT_THAT(Log(), HasSubstr("adopted"));
  // Ready means the containers are on their way, without anything else.
  const int a = WaitRunning("default.a")["pid"];
  const int b = WaitRunning("default.b")["pid"];
  ASSERT_TRUE(WaitFor(
      [&] {
        auto log = runtime::ReadFile(world_.state_dir() + "/default.a/container.log");
        return log.ok() && absl::StrContains(*log, "stdout F a");
      },
      kWait));
  const std::string env = *runtime::ReadFile(world_.state_dir() + "/default.a/container.log");
  EXPECT_THAT(env, HasSubstr("stdout F PATH="));
  EXPECT_THAT(env, Not(HasSubstr("NOTIFY_SOCKET"))) << "runc was handed berthd's NOTIFY_SOCKET";
  EXPECT_EQ(systemd.Next(absl::ZeroDuration()).text, "<none>");

  // SIGTERM: STOPPING=1 before it exits; the containers keep running.
  const int status = StopBerthd(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  NotifySocket::Message stopping = systemd.Next(absl::ZeroDuration());
  EXPECT_EQ(stopping.text, "STOPPING=1\nSTATUS=shutting down, containers keep running");
  EXPECT_TRUE(Alive(a));
  EXPECT_TRUE(Alive(b));

  // A restart (systemctl restart with KillMode=process): ready once both
  // are adopted.
  StartBerthdWith(DefaultFlags());
  ready = systemd.Next(kWait);
  unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(ready.text,
            "READY=1\nSTATUS=running: 2 NodeContainer(s) known, 2 container(s) adopted");
  EXPECT_EQ(ready.pid, berthd_.pid());
  EXPECT_EQ(WaitRunning("default.a")["pid"], a);
  EXPECT_EQ(WaitRunning("default.b")["pid"], b);
}

}  // namespace
}  // namespace berth
