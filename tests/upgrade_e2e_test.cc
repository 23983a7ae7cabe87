// An upgrade in place: containers made by the previous release (v0.1.0,
// built by hack/build-previous into <build>/previous/bin) keep running, with
// the same pids, when its berthd is replaced by this build's on the same state
// directory; a change of spec afterwards still recreates its container, now
// with this build's spec hash. Real runc and busybox, as berthd_e2e_test.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/spec/node_container.h"
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

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kPreviousBin[] = BERTH_PREVIOUS_BIN_DIR;

std::string Manifest(const std::string& name, const std::string& spec) {
  return absl::StrCat(
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ", name,
      "\n  labels: {app: ", name.substr(0, 20), "}\nspec:\n  image: busybox\n", spec);
}

// Containers that use every field of the spec hash between them.
const std::map<std::string, std::string>& Manifests() {
  static const auto* m = new std::map<std::string, std::string>{
      {"sleeper.yaml", Manifest("sleeper",
                                "  command: [sleep, \"3600\"]\n"
                                "  stopSignal: SIGKILL\n"
                                "  resources: {limits: {cpu: 100m, memory: 16Mi, pids: 10}}\n")},
      {"ticker.yaml",
       Manifest("ticker",
                "  command: [sh, -c]\n"
                "  args: [\"trap 'exit 0' TERM; while true; do echo $GREETING; sleep 0.2; done\"]\n"
                "  env:\n  - {name: GREETING, value: hello}\n  - {name: EMPTY}\n"
                "  user: \"65534:65534\"\n  workingDir: /tmp\n"
                "  restartPolicy: OnFailure\n  terminationGracePeriodSeconds: 10\n")},
      {"web.yaml", Manifest("web",
                            "  command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.2; "
                            "done\"]\n"
                            "  hostNetwork: true\n"
                            "  mounts:\n  - {mountPath: /www, tmpfs: {sizeLimit: 8Mi}}\n"
                            "  - {mountPath: /scratch, tmpfs: {}}\n"
                            "  - mountPath: /host/os-release\n"
                            "    hostPath: {path: /etc/os-release}\n    readOnly: true\n")},
      {"long.yaml",
       Manifest("collector." + std::string(70, 'm') + ".x", "  args: [sleep, \"3600\"]\n")},
  };
  return *m;
}

class UpgradeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* b : {"berthd", "berth-monitor"}) {
      ASSERT_EQ(access(absl::StrCat(kPreviousBin, "/", b).c_str(), X_OK), 0)
          << kPreviousBin << "/" << b << " is missing: run hack/build-previous";
    }
    manifests_ = world_.dir() + "/manifests";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
  }

  void TearDown() override {
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << Log();
  }

  // `berthd` with `monitor`, on this test's directories.
  std::vector<std::string> Flags(const std::string& berthd, const std::string& monitor) const {
    return {berthd,
            "--manifests-dir=" + manifests_,
            "--state-dir=" + world_.berth_state_dir(),
            "--run-dir=" + world_.run_dir(),
            "--images-dir=" + world_.dir() + "/images",
            "--cgroup-parent=" + world_.cgroup_parent(),
            "--monitor=" + monitor,
            "--relist-period=100ms",
            "--resync-period=1s",
            "--workers=2"};
  }
  std::vector<std::string> PreviousFlags() const {
    return Flags(absl::StrCat(kPreviousBin, "/berthd"),
                 absl::StrCat(kPreviousBin, "/berth-monitor"));
  }
  // The previous release has no --metrics-addr; this one must not take the
  // default port while other tests run.
  std::vector<std::string> NewFlags() const {
    std::vector<std::string> flags = Flags(BERTH_BERTHD_PATH, BERTH_MONITOR_PATH);
    flags.push_back("--metrics-addr=127.0.0.1:0");
    flags.push_back(berth::testing::NoCniFlag(world_));
    return flags;
  }

  std::string Log() const { return runtime::ReadFile(world_.dir() + "/berthd.log").value_or(""); }

  void Write(const std::string& file, const std::string& content) {
    berth::testing::WriteManifestFile(manifests_, file, content);
  }

  json Status(const std::string& id) const {
    return berth::testing::ReadStatusFile(world_.berth_state_dir(), id);
  }
  json WaitRunning(const std::string& id) {
    return berth::testing::WaitStatusFile(world_.berth_state_dir(), id, berth::testing::IsRunning,
                                          kWait);
  }
  void WaitForStatusWrittenAfter(const std::string& id, absl::Time since) {
    berth::testing::WaitStatusFileWrittenAfter(world_.berth_state_dir(), id, since, kWait);
  }

  // berth.dev/spec-hash in the runtime's record of `id`.
  std::string RecordedHash(const std::string& id) const {
    auto content = runtime::ReadFile(world_.state_dir() + "/" + id + "/state.json");
    if (!content.ok()) return "<no record>";
    json j = json::parse(*content, nullptr, false);
    return j.is_object() ? j["spec"]["annotations"].value("berth.dev/spec-hash", "") : "<bad>";
  }

  static std::string IdOf(const std::string& name) {
    controller::ObjectMeta meta;
    meta.name = name;
    return controller::ContainerIdFor(meta);
  }
  static std::vector<std::string> Ids() {
    return {"default.sleeper", "default.ticker", "default.web",
            IdOf("collector." + std::string(70, 'm') + ".x")};
  }

  static bool Alive(int pid) { return kill(pid, 0) == 0 && runtime::ProcessStartTime(pid) != 0; }

  // Runs this build's berthd with --dry-run; its output.
  std::string DryRun() {
    std::vector<std::string> argv = NewFlags();
    argv.push_back("--dry-run");
    const std::string out = world_.dir() + "/dry-run.log";
    berth::testing::OwnedProcess p;
    EXPECT_TRUE(p.Start(argv, out).ok());
    const int status = p.Stop(0);  // no signal: waits for the exit
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    return runtime::ReadFile(out).value_or("");
  }

  TestWorld world_;
  std::string manifests_;
  berth::testing::OwnedProcess berthd_;
};

TEST_F(UpgradeE2eTest, ContainersOfThePreviousReleaseKeepRunningAndASpecChangeStillRecreates) {
  for (const auto& [file, content] : Manifests()) Write(file, content);
  ASSERT_TRUE(berthd_.Start(PreviousFlags(), world_.dir() + "/berthd.log").ok());
  std::map<std::string, int> pids;
  std::map<std::string, std::string> old_hashes;
  for (const std::string& id : Ids()) {
    json s = WaitRunning(id);
    ASSERT_TRUE(s.contains("pid")) << id << ": " << s.dump() << "\n" << Log();
    pids[id] = s["pid"];
    old_hashes[id] = RecordedHash(id);
    EXPECT_THAT(old_hashes[id], ::testing::MatchesRegex("[0-9a-f]{16}")) << id;
  }
  // Containers outlive their berthd by default.
  const int stopped = berthd_.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0) << stopped;
  for (const auto& [id, pid] : pids) ASSERT_TRUE(Alive(pid)) << id << " died with berthd";

  // This build's plan for them: keep every one.
  const std::string plan = DryRun();
  for (const std::string& id : Ids()) {
    EXPECT_THAT(plan, ::testing::ContainsRegex("keep +" + id)) << plan;
  }

  const size_t log_before = Log().size();
  const absl::Time restart = absl::Now();
  ASSERT_TRUE(berthd_.Start(NewFlags(), world_.dir() + "/berthd.log").ok());
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(Log().substr(log_before), "adopted"); }, kWait))
      << Log();
  for (const std::string& id : Ids()) WaitForStatusWrittenAfter(id, restart);
  // Settled: a file written now is reconciled after every adopted container
  // was (one queue), and resyncs (1s) have gone over them all again.
  Write("probe.yaml", Manifest("probe", "  command: [sleep, \"3600\"]\n"));
  WaitRunning("default.probe");
  absl::SleepFor(absl::Seconds(2));

  const std::string second = Log().substr(log_before);
  EXPECT_THAT(second, Not(HasSubstr("recreate container")));
  EXPECT_THAT(second, Not(HasSubstr("delete container")));
  for (const auto& [id, pid] : pids) {
    json s = Status(id);
    EXPECT_EQ(s["pid"], pid) << id << " was restarted by the upgrade";
    EXPECT_EQ(s["phase"], "Running") << id;
    EXPECT_EQ(s["restartCount"], 0) << id;
    EXPECT_TRUE(Alive(pid)) << id;
    EXPECT_EQ(RecordedHash(id), old_hashes[id]) << id << " was recreated";
  }
  EXPECT_THAT(RecordedHash("default.probe"), ::testing::StartsWith("v2:"));

  // A change of spec recreates its container, with this build's hash; the
  // others go on.
  Write("sleeper.yaml", Manifest("sleeper",
                                 "  command: [sleep, \"3601\"]\n"
                                 "  stopSignal: SIGKILL\n"));
  json recreated = berth::testing::WaitStatusFile(
      world_.berth_state_dir(), "default.sleeper",
      [&](const json& s) {
        return berth::testing::IsRunning(s) && s.contains("pid") &&
               s["pid"] != pids["default.sleeper"];
      },
      kWait);
  EXPECT_NE(recreated["pid"], pids["default.sleeper"]) << recreated.dump();
  EXPECT_FALSE(Alive(pids["default.sleeper"]));
  EXPECT_THAT(RecordedHash("default.sleeper"), ::testing::StartsWith("v2:"));
  EXPECT_THAT(Log().substr(log_before), HasSubstr("recreate container default.sleeper"));
  for (const auto& [id, pid] : pids) {
    if (id == "default.sleeper") continue;
    EXPECT_EQ(Status(id)["pid"], pid) << id;
    EXPECT_TRUE(Alive(pid)) << id;
  }
}

}  // namespace
}  // namespace berth
