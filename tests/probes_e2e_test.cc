// Probes end to end: the real berthd (default flags; only the probes' own
// periods are short, as a user may write them), real runc, busybox. Each
// container is in a network namespace of its own with only loopback, so
// HTTP probes reach 127.0.0.1 inside it (never a port on the node).
// Observed through status files, the log, the processes, and in cluster
// mode kubectl on the API emulator. Every test checks for leaks afterwards.
#include <dirent.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::KubeEmulator;
using ::berth::testing::OwnedProcess;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(40);

std::string Object(const std::string& name, const std::string& command, const std::string& extra) {
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ",
                      name, "\nspec:\n  image: busybox\n  terminationGracePeriodSeconds: 5\n",
                      "  command: [\"sh\", \"-c\", ", json(command).dump(), "]\n", extra);
}

// Ends on SIGTERM at once.
std::string Loop(const std::string& first) {
  return absl::StrCat(first, "; trap 'exit 0' TERM; while true; do sleep 0.2; done");
}

// The host pids of processes whose command line is exactly `argv`.
std::set<int> PidsOf(const std::vector<std::string>& argv) {
  std::string want;
  for (const std::string& a : argv) want += a + std::string(1, '\0');
  std::set<int> out;
  DIR* d = opendir("/proc");
  while (dirent* e = d != nullptr ? readdir(d) : nullptr) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd == want) out.insert(pid);
  }
  if (d != nullptr) closedir(d);
  return out;
}

class ProbesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = world_.dir() + "/manifests";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
  }
  void TearDown() override {
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << berthd_.Log();
    if (HasFailure() && api_) std::cerr << "emulator log:\n" << api_->Log();
  }

  // berthd with its defaults but where it keeps things; `api`: cluster mode.
  void StartBerthd(const KubeEmulator* api = nullptr) {
    // The shared test flags: no CNI network, so a container off the host
    // network has loopback only (probed inside its namespace).
    std::vector<std::string> argv = {BERTH_BERTHD_PATH, "--images-dir=" + world_.dir() + "/images"};
    for (std::string& f : ::berth::testing::BerthdTestFlags(world_)) argv.push_back(std::move(f));
    if (api != nullptr) {
      argv.push_back("--node-name=node-a");
      argv.push_back("--kubeconfig=" + api->kubeconfig());
      argv.push_back("--manifests-dir=");
    } else {
      argv.push_back("--manifests-dir=" + manifests_);
    }
    ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  }

  json Status(const std::string& name) const {
    return berth::testing::ReadStatusFile(world_.berth_state_dir(), "default." + name);
  }
  // Waits until the status file matches; returns the last one read.
  template <typename Pred>
  json WaitStatus(const std::string& name, Pred pred, absl::Duration timeout = kWait) {
    json last;
    const bool ok = WaitFor(
        [&] {
          last = Status(name);
          return !last.is_null() && pred(last);
        },
        timeout);
    EXPECT_TRUE(ok) << name << " never matched; last: " << last.dump();
    return last;
  }
  static bool Running(const json& s) {
    return s.value("phase", "") == "Running" && s.contains("pid");
  }

  // Runs `args` in the container (as `berthctl exec` would).
  void ExecIn(const std::string& name, const std::vector<std::string>& args) {
    auto rt = runtime::RuncRuntime::Open(world_.RuntimeOptions());
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime::ExecOptions o;
    o.args = args;
    o.timeout = absl::Seconds(10);
    auto session = (*rt)->Exec("default." + name, o);
    ASSERT_TRUE(session.ok()) << session.status();
    absl::StatusOr<int> code =
        (*session)->Wait([](runtime::ExecStream, absl::string_view) { return true; });
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0);
  }

  void Write(const std::string& name, const std::string& content) {
    berth::testing::WriteManifestFile(manifests_, name + ".yaml", content);
  }

  TestWorld world_;
  std::string manifests_;
  OwnedProcess berthd_;
  std::unique_ptr<KubeEmulator> api_;
};

// httpd dies inside the container: liveness (period 1 s, 3 failures)
// restarts it within failureThreshold x periodSeconds + 6 s (a run's
// timeout, the stop, the restart).
TEST_F(ProbesE2eTest, LivenessRestartsAContainerWhoseHttpdDied) {
  Write("web", Object("web",
                      Loop("mkdir -p /www && echo ok > /www/healthz && "
                           "httpd -p 127.0.0.1:8080 -h /www"),
                      "  livenessProbe:\n    httpGet: {path: /healthz, port: 8080}\n"
                      "    periodSeconds: 1\n    failureThreshold: 3\n"));
  StartBerthd();
  json s = WaitStatus("web", [](const json& s) { return Running(s) && s.value("ready", false); });
  absl::SleepFor(absl::Seconds(3));  // healthy: probed, nothing happens
  EXPECT_EQ(Status("web").value("restartCount", -1), 0);
  ExecIn("web", {"killall", "httpd"});
  const absl::Time killed = absl::Now();
  s = WaitStatus("web", [](const json& s) { return s.value("restartCount", 0) >= 1; });
  const absl::Duration took = absl::Now() - killed;
  EXPECT_LE(took, absl::Seconds(3 * 1 + 6)) << took;
  EXPECT_GE(took, absl::Seconds(2)) << "killed before three failures";
  EXPECT_THAT(berthd_.Log(),
              HasSubstr("Liveness probe failed: Get \"http://127.0.0.1:8080/healthz"));
  // The new container serves again: no second restart.
  WaitStatus("web", [](const json& s) { return Running(s) && s.value("ready", false); });
  absl::SleepFor(absl::Seconds(4));
  EXPECT_EQ(Status("web").value("restartCount", -1), 1);
}

// A startup probe that passes only after 5 s holds off a liveness probe
// that would fail (and kill) at its first run before that.
TEST_F(ProbesE2eTest, AStartupProbeHoldsLivenessOff) {
  Write("slow", Object("slow", Loop("sleep 5; touch /started"),
                       "  startupProbe:\n    exec: {command: [test, -f, /started]}\n"
                       "    periodSeconds: 1\n    failureThreshold: 30\n"
                       "  livenessProbe:\n    exec: {command: [test, -f, /started]}\n"
                       "    periodSeconds: 1\n    failureThreshold: 1\n"));
  StartBerthd();
  json s = WaitStatus("slow", Running);
  EXPECT_FALSE(s.value("ready", true)) << "not ready before the startup probe passed";
  s = WaitStatus("slow", [](const json& s) { return s.value("ready", false); });
  absl::SleepFor(absl::Seconds(3));
  s = Status("slow");
  EXPECT_EQ(s.value("restartCount", -1), 0);
  EXPECT_TRUE(s.value("ready", false));
  EXPECT_THAT(berthd_.Log(), ::testing::Not(HasSubstr("Liveness probe failed")));
}

// An exec probe that hangs is timed out after timeoutSeconds and its
// process is gone then: never two at once, none living past its timeout
// by more than a margin (1.5 s).
TEST_F(ProbesE2eTest, AHangingExecProbeIsTimedOutAndItsProcessKilled) {
  Write("hang", Object("hang", Loop("true"),
                       "  readinessProbe:\n    exec: {command: [sleep, \"987\"]}\n"
                       "    periodSeconds: 2\n    timeoutSeconds: 1\n"));
  StartBerthd();
  WaitStatus("hang", Running);
  std::map<int, absl::Time> first_seen;
  std::map<int, absl::Time> last_seen;
  size_t most_at_once = 0;
  for (absl::Time end = absl::Now() + absl::Seconds(8); absl::Now() < end;) {
    std::set<int> now = PidsOf({"sleep", "987"});
    most_at_once = std::max(most_at_once, now.size());
    for (int pid : now) {
      first_seen.emplace(pid, absl::Now());
      last_seen[pid] = absl::Now();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GE(first_seen.size(), 2u) << "the probe ran again after its timeout";
  EXPECT_LE(most_at_once, 1u);
  for (const auto& [pid, t] : first_seen) {
    EXPECT_LE(last_seen[pid] - t, absl::Milliseconds(2500)) << pid;
  }
  EXPECT_FALSE(Status("hang").value("ready", true));
  EXPECT_THAT(berthd_.Log(), HasSubstr("Readiness probe failed: command \"sleep 987\" timed out"));
}

// berthd killed (-9) after two of three liveness failures: the restarted
// berthd kills the container at the next failure, within one period (5 s)
// and a margin (3 s) of its start, not after three more.
TEST_F(ProbesE2eTest, FailureCountsSurviveAKill9OfBerthd) {
  Write("live", Object("live", Loop("touch /alive"),
                       "  livenessProbe:\n    exec: {command: [test, -f, /alive]}\n"
                       "    initialDelaySeconds: 1\n    periodSeconds: 5\n"
                       "    failureThreshold: 3\n"));
  StartBerthd();
  WaitStatus("live", Running);
  absl::SleepFor(absl::Milliseconds(1500));  // the first run (at 1 s) succeeded
  ExecIn("live", {"rm", "/alive"});
  ASSERT_TRUE(WaitFor([&] { return berthd_.CountInLog("Liveness probe failed") >= 2; }, kWait));
  berthd_.Stop(SIGKILL);
  EXPECT_EQ(Status("live").value("restartCount", -1), 0);
  StartBerthd();
  const absl::Time restarted = absl::Now();
  WaitStatus("live", [](const json& s) { return s.value("restartCount", 0) >= 1; });
  EXPECT_LE(absl::Now() - restarted, absl::Seconds(5 + 3));
}

// Readiness through the API: kubectl sees Ready turn False when the
// readiness file goes, and True again when it is back.
TEST_F(ProbesE2eTest, ReadinessIsTheReadyConditionKubectlSees) {
  ASSERT_FALSE(berth::testing::KubectlPath().empty()) << "kubectl is not installed";
  TestWorld api_world;
  auto api = KubeEmulator::Start(api_world.dir(), {"--bookmark-interval=1"});
  ASSERT_TRUE(api.ok()) << api.status();
  api_ = *std::move(api);
  auto ok = [](const runtime::CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  ok(api_->Kubectl({"apply", "-f", BERTH_SOURCE_DIR "/crds/"}));
  ok(api_->KubectlWithFile({"apply"}, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n"));
  ok(api_->KubectlWithFile({"apply"},
                           Object("web", Loop("touch /ready"),
                                  "  nodeName: node-a\n  readinessProbe:\n"
                                  "    exec: {command: [cat, /ready]}\n    periodSeconds: 1\n")));
  StartBerthd(api_.get());
  auto ready = [&]() -> std::string {
    runtime::CommandResult r =
        api_->Kubectl({"get", "nodecontainer", "web", "-o",
                       "jsonpath={.status.nodes[0].conditions[?(@.type==\"Ready\")].status}"});
    return r.exit_code == 0 ? r.output : "";
  };
  ok(api_->Kubectl({"wait", "--for=condition=Ready", "nodecontainer/web", "--timeout=40s"},
                   absl::Seconds(45)));
  EXPECT_EQ(ready(), "True");
  ExecIn("web", {"rm", "/ready"});
  EXPECT_TRUE(WaitFor([&] { return ready() == "False"; }, absl::Seconds(15))) << ready();
  std::string reason =
      ok(api_->Kubectl({"get", "nodecontainer", "web", "-o",
                        "jsonpath={.status.nodes[0].conditions[?(@.type==\"Ready\")].reason}"}));
  EXPECT_EQ(reason, "ContainersNotReady");
  ExecIn("web", {"touch", "/ready"});
  EXPECT_TRUE(WaitFor([&] { return ready() == "True"; }, absl::Seconds(15))) << ready();
  ok(api_->Kubectl({"wait", "--for=condition=Ready", "nodecontainer/web", "--timeout=20s"},
                   absl::Seconds(25)));
  ok(api_->Kubectl({"delete", "nodecontainer", "web", "--timeout=60s"}, absl::Seconds(70)));
}

}  // namespace
}  // namespace berth
