// berthctl's read verbs (get, describe, events, -w) and the API's read side
// (List, Get, Watch, Events) end to end, on real containers from manifests:
// one running, one crashing and restarted, one whose image is missing; and
// the API from another language (a Python client generated from the proto).
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/berthctl_fixture.h"
#include "yaml-cpp/yaml.h"

namespace berth::testing {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

std::string Manifest(const std::string& name, const std::string& command,
                     const std::string& extra_spec = "", const std::string& labels = "") {
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ",
                      name, "\n", labels.empty() ? "" : "  labels: " + labels + "\n",
                      "spec:\n  image: busybox\n  command: [\"sh\", \"-c\", ", json(command).dump(),
                      "]\n", extra_spec);
}

// The lines of `text` that hold `needle`.
std::vector<std::string> LinesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(l, needle)) out.emplace_back(l);
  }
  return out;
}

class BerthctlReadTest : public BerthctlE2eTest {
 protected:
  // web runs, crash exits 3 again and again, missing has no image.
  void WriteThree() {
    Write("web.yaml", Manifest("web", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
                               "  terminationGracePeriodSeconds: 5\n", "{app: web, tier: front}"));
    Write("crash.yaml", Manifest("crash", "echo dying; exit 3", "", "{app: crash}"));
    Write("missing.yaml",
          "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: missing\n"
          "spec:\n  image: no-such-image:1\n  imagePullPolicy: Never\n");
  }

  // `berthctl get -A -o json` as JSON (items by name).
  std::map<std::string, json> GetAll() {
    runtime::CommandResult r = Berthctl({"get", "-A", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::map<std::string, json> out;
    json j = json::parse(r.output, nullptr, false);
    if (j.is_discarded()) return out;
    for (const json& item : j["items"]) out[item["name"]] = item;
    return out;
  }

  // Waits until web runs, crash restarted twice and missing failed its pull.
  void WaitThree() {
    std::map<std::string, json> all;
    bool ok = WaitFor(
        [&] {
          all = GetAll();
          return all.count("web") && all["web"]["status"]["phase"] == "Running" &&
                 all.count("crash") && all["crash"]["status"]["restartCount"] >= 2 &&
                 all.count("missing") && all["missing"]["status"]["reason"] == "ErrImageNeverPull";
        },
        kWait);
    ASSERT_TRUE(ok) << json(all).dump(2);
  }

  // A berthctl that keeps running (-w), its output in a log file.
  void StartWatcher(OwnedProcess& p, const std::string& log, std::vector<std::string> args) {
    args.insert(args.begin(), {BERTH_BERTHCTL_PATH, "--socket=" + socket()});
    ASSERT_TRUE(p.Start(args, world_.dir() + "/" + log).ok());
  }

  std::vector<std::string> FastRestarts() {
    return {"--restart-backoff-initial=300ms", "--restart-backoff-max=600ms"};
  }
};

TEST_F(BerthctlReadTest, GetShowsATableAsKubectlDoes) {
  WriteThree();
  StartBerthd(FastRestarts());
  WaitThree();
  // web is ready once its running is reported (it has no probes).
  runtime::CommandResult r;
  std::vector<std::string> lines;
  EXPECT_TRUE(WaitFor(
      [&] {
        r = Berthctl({"get"});
        lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
        return lines.size() == 4u && absl::StrContains(lines[3], " 1/1 ");
      },
      kWait))
      << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(lines.size(), 4u) << r.output;
  EXPECT_TRUE(absl::StartsWith(lines[0], "NAME ")) << r.output;
  EXPECT_THAT(lines[0], AllOf(HasSubstr("READY"), HasSubstr("IMAGE"), HasSubstr("PHASE"),
                              HasSubstr("RESTARTS"), HasSubstr("AGE")));
  const size_t ready_at = lines[0].find("READY");
  EXPECT_EQ(lines[2].substr(ready_at, 3), "0/1") << "missing never ran:\n" << r.output;
  EXPECT_EQ(lines[3].substr(ready_at, 3), "1/1") << r.output;
  // Aligned: every column starts where its header does.
  const size_t phase_at = lines[0].find("PHASE");
  for (const std::string& l : lines) EXPECT_NE(l[phase_at], ' ') << r.output;
  EXPECT_THAT(lines[1], HasSubstr("crash")) << "sorted by name";
  EXPECT_THAT(lines[2], HasSubstr("missing"));
  EXPECT_THAT(lines[2], HasSubstr("no-such-image:1"));
  EXPECT_THAT(lines[3], AllOf(HasSubstr("web"), HasSubstr("busybox"), HasSubstr("Running")));
  EXPECT_THAT(lines[3], ::testing::ContainsRegex(" [0-9]+s$")) << "AGE as kubectl's";

  r = Berthctl({"get", "-A", "-o", "wide"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("NAMESPACE"), HasSubstr("CONTAINER-ID"), HasSubstr("PID"),
                              HasSubstr("SOURCE")));
  EXPECT_THAT(r.output, HasSubstr(manifests_ + "/web.yaml:1"));
  EXPECT_THAT(LinesWith(r.output, "web")[0], HasSubstr("default.web"));

  r = Berthctl({"get", "-n", "other"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("No resources found in other namespace."));
  r = Berthctl({"get", "-o", "name"});
  EXPECT_EQ(r.output, "nodecontainer/crash\nnodecontainer/missing\nnodecontainer/web\n");
}

TEST_F(BerthctlReadTest, FiltersBySelectorPhaseAndSource) {
  WriteThree();
  StartBerthd(FastRestarts());
  WaitThree();
  auto names = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"get", "-o", "name"});
    runtime::CommandResult r = Berthctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  EXPECT_EQ(names({"-l", "app=web"}), "nodecontainer/web\n");
  EXPECT_EQ(names({"-l", "app!=web"}), "nodecontainer/crash\nnodecontainer/missing\n");
  EXPECT_EQ(names({"-l", "app in (web, crash)"}), "nodecontainer/crash\nnodecontainer/web\n");
  EXPECT_EQ(names({"-l", "app notin (web)"}), "nodecontainer/crash\nnodecontainer/missing\n");
  EXPECT_EQ(names({"-l", "tier"}), "nodecontainer/web\n");
  EXPECT_EQ(names({"-l", "!app"}), "nodecontainer/missing\n");
  EXPECT_EQ(names({"-l", "app,!tier"}), "nodecontainer/crash\n");
  EXPECT_EQ(names({"--phase", "Running"}), "nodecontainer/web\n");
  EXPECT_EQ(names({"--source", "file", "-l", "app=web"}), "nodecontainer/web\n");
  EXPECT_EQ(names({"--source", "api"}), "");
  runtime::CommandResult r = Berthctl({"get", "-l", "app in (web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("Error from server (Invalid): unable to parse requirement"));
}

TEST_F(BerthctlReadTest, JsonAndYamlParseAndCarryStatusAndSpec) {
  WriteThree();
  StartBerthd(FastRestarts());
  WaitThree();
  runtime::CommandResult r = Berthctl({"get", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json list = json::parse(r.output);
  EXPECT_EQ(list["kind"], "List");
  EXPECT_EQ(list["apiVersion"], "berth.v1");
  EXPECT_GT(std::stoull(list["metadata"]["revision"].get<std::string>()), 0u);
  ASSERT_EQ(list["items"].size(), 3u);
  const json& crash = list["items"][0];
  EXPECT_EQ(crash["name"], "crash");
  EXPECT_TRUE(crash["status"]["hasLastExitCode"]);
  EXPECT_EQ(crash["status"]["lastExitCode"], 3);
  EXPECT_EQ(crash["labels"]["app"], "crash");
  EXPECT_EQ(crash["source"]["kind"], "file");
  EXPECT_EQ(crash["source"]["file"], manifests_ + "/crash.yaml");
  EXPECT_EQ(crash["source"]["line"], 1);

  // One name: the object itself.
  r = Berthctl({"get", "web", "-o", "yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  YAML::Node web = YAML::Load(r.output);
  EXPECT_EQ(web["name"].as<std::string>(), "web");
  EXPECT_EQ(web["status"]["phase"].as<std::string>(), "Running");
  EXPECT_GT(web["status"]["pid"].as<int>(), 0);
  EXPECT_EQ(web["labels"]["tier"].as<std::string>(), "front");
  const std::string spec = web["specYaml"].as<std::string>();
  EXPECT_THAT(spec, HasSubstr("image: busybox\n"));
  EXPECT_THAT(spec, HasSubstr("terminationGracePeriodSeconds: 5\n"));
  YAML::Node spec_node = YAML::Load(spec);
  EXPECT_EQ(spec_node["command"][0].as<std::string>(), "sh");

  r = Berthctl({"get", "-o", "yaml", "-l", "app"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  YAML::Node both = YAML::Load(r.output);
  EXPECT_EQ(both["kind"].as<std::string>(), "List");
  EXPECT_EQ(both["items"].size(), 2u);
}

TEST_F(BerthctlReadTest, DescribeShowsStateSpecAndEvents) {
  WriteThree();
  StartBerthd(FastRestarts());
  WaitThree();
  runtime::CommandResult r = Berthctl({"describe", "crash"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Name:           crash\n"));
  EXPECT_THAT(r.output, HasSubstr("Namespace:      default\n"));
  EXPECT_THAT(r.output, HasSubstr("Labels:         app=crash\n"));
  EXPECT_THAT(r.output, HasSubstr("Source:         " + manifests_ + "/crash.yaml:1\n"));
  EXPECT_THAT(r.output, HasSubstr("Image:          busybox\n"));
  EXPECT_THAT(r.output, HasSubstr("Last State:     Terminated\n"));
  EXPECT_THAT(r.output, HasSubstr("  Exit Code:    3\n"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Restart Count:  [2-9]"));
  EXPECT_THAT(r.output, HasSubstr("Spec:\n  image: busybox\n  command:\n  - sh\n"));
  EXPECT_THAT(r.output, HasSubstr("Events:\n  Type "));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Normal +Started +[0-9]+s +"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Warning +BackOff +[0-9]+s +"));
  // Repeats folded as kubectl folds them.
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Started +[0-9]+s \\(x[0-9]+ over [0-9]+s\\)"));

  r = Berthctl({"describe", "missing"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Reason:       ErrImageNeverPull"));
  EXPECT_THAT(r.output, HasSubstr("no-such-image:1"));

  r = Berthctl({"describe", "web", "-n", "default"});
  EXPECT_THAT(r.output, HasSubstr("Labels:         app=web\n                tier=front\n"));
  EXPECT_THAT(r.output, HasSubstr("Phase:          Running\n"));
  EXPECT_THAT(r.output, HasSubstr("PID:"));
}

TEST_F(BerthctlReadTest, NotFoundAsKubectlSaysIt) {
  WriteThree();
  StartBerthd(FastRestarts());
  WaitThree();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"get", "nope"}, {"describe", "nope"}}) {
    runtime::CommandResult r = Berthctl(args);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output, "Error from server (NotFound): nodecontainers \"nope\" not found\n");
  }
  // Found ones are still printed; the exit code says one was not.
  runtime::CommandResult r = Berthctl({"get", "web", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output,
              HasSubstr("Error from server (NotFound): nodecontainers \"nope\" not found"));
  EXPECT_THAT(r.output, HasSubstr("Running"));
  r = Berthctl({"get", "web", "-n", "other"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("nodecontainers \"web\" not found"));
}

TEST_F(BerthctlReadTest, WatchesPrintChangesAsTheyHappen) {
  Write("web.yaml", Manifest("web", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
                             "  terminationGracePeriodSeconds: 5\n", "{app: web}"));
  StartBerthd(FastRestarts());
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(Berthctl({"get"}).output, "Running"); }, kWait));
  OwnedProcess get_watch, events_watch;
  StartWatcher(get_watch, "get-w.log", {"get", "-w"});
  StartWatcher(events_watch, "events-w.log", {"events", "-w"});
  ASSERT_TRUE(WaitFor([&] { return get_watch.CountInLog("web") >= 1; }, kWait)) << get_watch.Log();

  Write("late.yaml", Manifest("late", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
                              "  terminationGracePeriodSeconds: 5\n"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return absl::c_any_of(LinesWith(get_watch.Log(), "late"),
                              [](const std::string& l) { return absl::StrContains(l, "Running"); });
      },
      kWait))
      << get_watch.Log();
  EXPECT_TRUE(WaitFor([&] { return events_watch.CountInLog("nodecontainer/late") >= 2; }, kWait))
      << events_watch.Log();
  EXPECT_THAT(events_watch.Log(), ::testing::ContainsRegex("Normal +Started +nodecontainer/late"));

  // Gone from the manifests: Removing, then deleted.
  ASSERT_EQ(unlink((manifests_ + "/late.yaml").c_str()), 0);
  EXPECT_TRUE(WaitFor([&] { return get_watch.CountInLog("Removing") >= 1; }, kWait))
      << get_watch.Log();
  EXPECT_TRUE(WaitFor([&] { return Berthctl({"get", "late"}).exit_code == 1; }, kWait));
  EXPECT_THAT(get_watch.Log(), Not(HasSubstr("error")));
  EXPECT_EQ(get_watch.Log().find("NAME"), get_watch.Log().rfind("NAME")) << "one header";
  get_watch.Stop(SIGTERM);
  events_watch.Stop(SIGTERM);
}

TEST_F(BerthctlReadTest, AContainerNoLongerWantedAfterARestartIsRemoving) {
  // It ignores SIGTERM: its stop takes the grace period (3 s).
  Write("stubborn.yaml", Manifest("stubborn", "trap '' TERM; while true; do sleep 0.1; done",
                                  "  terminationGracePeriodSeconds: 3\n"));
  StartBerthd();
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(Berthctl({"get"}).output, "Running"); }, kWait));
  berthd_.Stop(SIGKILL);
  ASSERT_EQ(unlink((manifests_ + "/stubborn.yaml").c_str()), 0);
  StartBerthd();
  runtime::CommandResult r;
  EXPECT_TRUE(WaitFor(
      [&] {
        r = Berthctl({"get", "stubborn"});
        return absl::StrContains(r.output, "Removing");
      },
      kWait))
      << r.output;
  EXPECT_TRUE(WaitFor([&] { return Berthctl({"get", "stubborn"}).exit_code == 1; }, kWait));
}

TEST_F(BerthctlReadTest, EventsListsWhatHappened) {
  WriteThree();
  StartBerthd(FastRestarts());
  WaitThree();
  runtime::CommandResult r = Berthctl({"events"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("LAST SEEN"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("Warning +BackOff +nodecontainer/crash"));
  EXPECT_THAT(r.output, HasSubstr("nodecontainer/web"));
  r = Berthctl({"events", "crash"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("nodecontainer/web")));
  EXPECT_THAT(r.output, HasSubstr("nodecontainer/crash"));
  r = Berthctl({"events", "-A"});
  EXPECT_THAT(r.output, HasSubstr("NAMESPACE"));
  r = Berthctl({"events", "-n", "other"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("No events found in other namespace."));
}

TEST_F(BerthctlReadTest, TheSocketsGroupMayGetAndDescribe) {
  Write("web.yaml", Manifest("web", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
                             "  terminationGracePeriodSeconds: 5\n"));
  StartBerthd({"--api-group=" + std::to_string(kNogroup)});
  runtime::CommandResult r;
  ASSERT_TRUE(WaitFor(
      [&] {
        r = BerthctlAs(kNobody, kNogroup, {"get"});
        return r.exit_code == 0 && absl::StrContains(r.output, "Running");
      },
      kWait))
      << r.output;
  r = BerthctlAs(kNobody, kNogroup, {"describe", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Phase:          Running"));
  r = BerthctlAs(kNobody, kNogroup, {"events"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(BerthctlReadTest, WorksWithBerthdsDefaultFlags) {
  // Every flag at its default (the 10 s back-off included): a crash is
  // restarted at once the first time.
  Write("web.yaml", Manifest("web", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
                             "  terminationGracePeriodSeconds: 5\n"));
  Write("crash.yaml", Manifest("crash", "exit 7"));
  StartBerthd();
  runtime::CommandResult r;
  ASSERT_TRUE(WaitFor(
      [&] {
        r = Berthctl({"get"});
        return absl::c_any_of(
                   LinesWith(r.output, "web"),
                   [](const std::string& l) { return absl::StrContains(l, "Running"); }) &&
               absl::c_any_of(LinesWith(r.output, "crash"), [](const std::string& l) {
                 return absl::StrContains(l, "CrashLoopBackOff");
               });
      },
      kWait))
      << r.output;
  r = Berthctl({"describe", "crash"});
  EXPECT_THAT(r.output, HasSubstr("  Exit Code:    7\n")) << r.output;
}

TEST_F(BerthctlReadTest, APythonClientListsGetsAndWatches) {
  Write("web.yaml", Manifest("web", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done",
                             "  terminationGracePeriodSeconds: 5\n", "{app: web}"));
  StartBerthd();
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(Berthctl({"get"}).output, "Running"); }, kWait));
  absl::StatusOr<runtime::CommandResult> r =
      runtime::RunCommand({"/usr/bin/python3", BERTH_SOURCE_DIR "/tests/api_client_test.py",
                           "--proto-dir", BERTH_SOURCE_DIR "/controller/api/proto", "--socket",
                           socket(), "--manifests", manifests_, "--out", world_.dir() + "/python"},
                          absl::Seconds(90));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_THAT(r->output, HasSubstr("python client: OK"));
}

}  // namespace
}  // namespace berth::testing
