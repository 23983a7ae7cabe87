// berthctl's write verbs end to end (apply, delete, diff, restart), against
// a berthd with its default flags: the manifests directory they write, the
// containers that follow, who may use them, and their refusal in cluster
// mode.
#include <dirent.h>
#include <sys/stat.h>

#include <set>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/state_store.h"
#include "tests/berthctl_fixture.h"

namespace berth::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr gid_t kAdmins = 65001;

// A NodeContainer that prints `word` and exits at once on SIGTERM.
std::string Manifest(const std::string& name, const std::string& word,
                     const std::string& extra_spec = "") {
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ",
                      name, "\nspec:\n  image: busybox\n  command: [\"sh\", \"-c\", ",
                      nlohmann::json(absl::StrCat("trap 'exit 0' TERM; echo ", word,
                                                  "; while true; do sleep 0.1; done"))
                          .dump(),
                      "]\n  terminationGracePeriodSeconds: 5\n", extra_spec);
}

class BerthctlWriteE2eTest : public BerthctlE2eTest {
 protected:
  void SetUp() override {
    BerthctlE2eTest::SetUp();
    src_ = world_.dir() + "/src";
    ASSERT_TRUE(runtime::MakeDirs(src_, 0755).ok());
  }

  // A manifest outside the manifests directory, readable by everyone.
  std::string Source(const std::string& file, const std::string& content) {
    const std::string path = src_ + "/" + file;
    EXPECT_TRUE(runtime::WriteFileAtomic(path, content).ok());
    return path;
  }

  std::set<std::string> ManifestFiles() const {
    std::set<std::string> names;
    DIR* d = opendir(manifests_.c_str());
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.insert(e->d_name);
    }
    closedir(d);
    return names;
  }

  // The pid of `name`'s container once its status says Running (and,
  // with `not_pid`, another pid than that).
  int WaitRunning(const std::string& name, int not_pid = 0) {
    nlohmann::json s = WaitStatusFile(
        world_.berth_state_dir(), "default." + name,
        [&](const nlohmann::json& j) { return IsRunning(j) && j["pid"].get<int>() != not_pid; },
        kWait);
    return s.contains("pid") ? s["pid"].get<int>() : 0;
  }

  // The containers on the node, from berthd's records (read only: opening
  // a runtime here would recover, and so disturb, what berthd is doing).
  std::set<std::string> Containers() {
    std::vector<std::string> ids =
        runtime::StateStore(world_.RuntimeOptions().state_dir).ListEntries();
    return std::set<std::string>(ids.begin(), ids.end());
  }

  std::string src_;
};

TEST_F(BerthctlWriteE2eTest, ApplyAFileADirectoryAndStdin) {
  StartBerthd();
  runtime::CommandResult r = Berthctl({"apply", "-f", Source("a.yaml", Manifest("a", "one"))});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/a created\n");
  EXPECT_THAT(ManifestFiles(), ElementsAre("default.a.yaml"));
  const int a = WaitRunning("a");

  const std::string dir = world_.dir() + "/many";
  ASSERT_TRUE(runtime::MakeDirs(dir).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/b.yaml", Manifest("b", "two")).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/c.yml", Manifest("c", "three")).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/notes.txt", "not a manifest").ok());
  r = Berthctl({"apply", "-f", dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/b created\nnodecontainer/c created\n");

  r = Berthctl({"apply", "-f", "-"}, Manifest("d", "four"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/d created\n");
  WaitRunning("b");
  WaitRunning("c");
  WaitRunning("d");
  EXPECT_THAT(ManifestFiles(),
              ElementsAre("default.a.yaml", "default.b.yaml", "default.c.yaml", "default.d.yaml"));

  // Again: unchanged, nothing restarted; --dry-run says so and writes nothing.
  r = Berthctl({"apply", "-f", src_ + "/a.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/a unchanged\n");
  r = Berthctl({"apply", "--dry-run=server", "-f", "-"}, Manifest("e", "five"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/e created (dry run)\n");
  EXPECT_EQ(ManifestFiles().count("default.e.yaml"), 0u);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(WaitRunning("a"), a);
  EXPECT_EQ(Containers().count("default.e"), 0u);
}

TEST_F(BerthctlWriteE2eTest, AChangedSpecIsRecreatedInTheFileItLivesIn) {
  Write("mine.yaml", "# kept by hand\n" + Manifest("web", "one"));
  StartBerthd();
  const int before = WaitRunning("web");
  runtime::CommandResult r = Berthctl({"apply", "-f", "-"}, Manifest("web", "two"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/web configured\n");
  EXPECT_THAT(ManifestFiles(), ElementsAre("mine.yaml"));
  EXPECT_EQ(*runtime::ReadFile(manifests_ + "/mine.yaml"), Manifest("web", "two"));
  const int after = WaitRunning("web", before);
  EXPECT_NE(after, before);
  EXPECT_TRUE(
      WaitFor([&] { return berthd_.CountInLog("recreate container default.web") >= 1; }, kWait));

  // A file that holds other objects too is not rewritten.
  Write("two.yaml", Manifest("p", "p") + "---\n" + Manifest("q", "q"));
  WaitRunning("q");
  r = Berthctl({"apply", "-f", "-"}, Manifest("q", "changed"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (Conflict): NodeContainer default/q is "
                                  "defined in " +
                                  manifests_ + "/two.yaml together with 1 other"));
  r = Berthctl({"delete", "p"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (Conflict)"));
  EXPECT_EQ(*runtime::ReadFile(manifests_ + "/two.yaml"),
            Manifest("p", "p") + "---\n" + Manifest("q", "q"));
}

TEST_F(BerthctlWriteE2eTest, ABrokenManifestWritesNothingAndTouchesNothing) {
  StartBerthd();
  ASSERT_EQ(Berthctl({"apply", "-f", Source("a.yaml", Manifest("a", "one"))}).exit_code, 0);
  const int a = WaitRunning("a");
  // Manifest is 8 lines: the "---" is line 9, b's bogus field line 18.
  const std::string broken = Source(
      "broken.yaml", Manifest("a", "changed") + "---\n" + Manifest("b", "b") + "  bogus: 1\n");
  runtime::CommandResult r = Berthctl({"apply", "-f", broken});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("Error from server (Invalid): " + broken + ":18:3: spec.bogus: "));
  // With a directory, nothing of the good files either.
  const std::string dir = world_.dir() + "/mixed";
  ASSERT_TRUE(runtime::MakeDirs(dir).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/1-good.yaml", Manifest("c", "c")).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/2-bad.yaml", "kind: [\n").ok());
  r = Berthctl({"apply", "-f", dir});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(dir + "/2-bad.yaml:"));
  EXPECT_THAT(r.output, Not(HasSubstr("created")));
  EXPECT_THAT(ManifestFiles(), ElementsAre("default.a.yaml"));
  EXPECT_EQ(*runtime::ReadFile(manifests_ + "/default.a.yaml"), Manifest("a", "one"));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(WaitRunning("a"), a);
  EXPECT_EQ(Containers(), std::set<std::string>{"default.a"});
}

TEST_F(BerthctlWriteE2eTest, DeleteRemovesTheFileAndTheContainer) {
  StartBerthd();
  const std::string a = Source("a.yaml", Manifest("a", "one"));
  ASSERT_EQ(Berthctl({"apply", "-f", a}).exit_code, 0);
  ASSERT_EQ(Berthctl({"apply", "-f", "-"}, Manifest("b", "two")).exit_code, 0);
  WaitRunning("a");
  WaitRunning("b");
  runtime::CommandResult r = Berthctl({"delete", "b", "-n", "default"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer \"b\" deleted\n");
  r = Berthctl({"delete", "-f", a});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer \"a\" deleted\n");
  EXPECT_TRUE(ManifestFiles().empty());
  EXPECT_TRUE(WaitFor([&] { return Containers().empty(); }, kWait)) << berthd_.Log();
  r = Berthctl({"delete", "a", "nope"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (NotFound): nodecontainers \"a\" not found"));
  EXPECT_THAT(r.output,
              HasSubstr("Error from server (NotFound): nodecontainers \"nope\" not found"));
  r = Berthctl({"delete", "../../etc"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (Invalid)"));
}

TEST_F(BerthctlWriteE2eTest, RestartRecreatesTheContainerWithTheSameSpec) {
  StartBerthd();
  ASSERT_EQ(Berthctl({"apply", "-f", "-"}, Manifest("web", "one")).exit_code, 0);
  const int before = WaitRunning("web");
  const nlohmann::json old_status = ReadStatusFile(world_.berth_state_dir(), "default.web");
  runtime::CommandResult r = Berthctl({"restart", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/web restarted\n");
  const int after = WaitRunning("web", before);
  EXPECT_NE(after, before);
  const nlohmann::json status = ReadStatusFile(world_.berth_state_dir(), "default.web");
  EXPECT_EQ(status["image"], old_status["image"]);
  EXPECT_EQ(status["restartCount"], 0) << "a restart on request is a new container";
  EXPECT_TRUE(WaitFor(
      [&] { return berthd_.CountInLog("restart container default.web: requested") == 1; }, kWait));
  // The spec is what the file says: nothing to do after the restart.
  r = Berthctl({"diff", "-f", "-"}, Manifest("web", "one"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Berthctl({"restart", "nope"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("Error from server (NotFound): nodecontainers \"nope\" not found"));
  // Once its manifest and container are gone, there is nothing to restart.
  ASSERT_EQ(Berthctl({"delete", "web"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Containers().empty(); }, kWait));
  r = Berthctl({"restart", "web"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (NotFound): nodecontainers \"web\""));
}

TEST_F(BerthctlWriteE2eTest, DiffShowsThePlanWithKubectlsExitCodes) {
  StartBerthd();
  ASSERT_EQ(Berthctl({"apply", "-f", "-"}, Manifest("web", "one")).exit_code, 0);
  WaitRunning("web");
  runtime::CommandResult r = Berthctl({"diff", "-f", Source("same.yaml", Manifest("web", "one"))});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("keep     default.web  (up to date)"));
  r = Berthctl({"diff", "-f", Source("changed.yaml", Manifest("web", "two"))});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("recreate default.web  (spec changed"));
  r = Berthctl({"diff", "-f", "-"}, Manifest("new", "three"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("create   default.new"));
  EXPECT_THAT(r.output, HasSubstr("keep     default.web"));
  r = Berthctl({"diff", "-f", "-"}, Manifest("web", "one", "  nodeName: elsewhere\n"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("delete   default.web  (no longer desired)"));
  r = Berthctl({"diff", "-f", Source("bad.yaml", Manifest("web", "one") + "  bogus: 1\n")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("Error from server (Invalid): " + src_ + "/bad.yaml:9:3: spec.bogus"));
  r = Berthctl({"diff", "-f", src_ + "/missing.yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // Nothing was written or changed.
  EXPECT_THAT(ManifestFiles(), ElementsAre("default.web.yaml"));
  EXPECT_EQ(Containers(), std::set<std::string>{"default.web"});
}

TEST_F(BerthctlWriteE2eTest, ReadersMayDiffOnlyAdminsAndRootMayWrite) {
  StartBerthd(
      {"--api-group=" + std::to_string(kNogroup), "--api-admin-group=" + std::to_string(kAdmins)});
  ASSERT_EQ(Berthctl({"apply", "-f", "-"}, Manifest("web", "one")).exit_code, 0);
  const int pid = WaitRunning("web");
  const std::string changed = Source("changed.yaml", Manifest("web", "two"));

  // A reader (the socket's group only).
  runtime::CommandResult r = BerthctlAs(kNobody, kNogroup, {"version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = BerthctlAs(kNobody, kNogroup, {"diff", "-f", changed});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("recreate default.web"));
  for (std::vector<std::string> verb : std::vector<std::vector<std::string>>{
           {"apply", "-f", changed}, {"delete", "web"}, {"restart", "web"}}) {
    r = BerthctlAs(kNobody, kNogroup, verb);
    EXPECT_EQ(r.exit_code, 1) << verb[0] << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("Error from server (Forbidden)")) << verb[0];
  }
  EXPECT_EQ(*runtime::ReadFile(manifests_ + "/default.web.yaml"), Manifest("web", "one"));
  EXPECT_EQ(WaitRunning("web"), pid);

  // An admin (in the socket's group too) may apply.
  r = BerthctlAsGroups(kNobody, kNogroup, {kNogroup, kAdmins}, {"apply", "-f", "-"},
                       Manifest("web", "two"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nodecontainer/web configured\n");
  const int after = WaitRunning("web", pid);
  r = BerthctlAsGroups(kNobody, kNogroup, {kNogroup, kAdmins}, {"restart", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  WaitRunning("web", after);
  // Root may everything.
  r = Berthctl({"delete", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(WaitFor([&] { return Containers().empty(); }, kWait));
}

TEST_F(BerthctlWriteE2eTest, ObjectsOfTheKubernetesApiAreRefused) {
  ASSERT_FALSE(KubectlPath().empty()) << "kubectl is not installed";
  const std::string api_dir = world_.dir() + "/api";
  ASSERT_TRUE(runtime::MakeDirs(api_dir).ok());
  auto api = KubeEmulator::Start(api_dir);
  ASSERT_TRUE(api.ok()) << api.status();
  ASSERT_EQ((*api)->Kubectl({"apply", "-f", BERTH_SOURCE_DIR "/crds/"}).exit_code, 0);
  runtime::CommandResult k =
      (*api)->KubectlWithFile({"apply"}, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n");
  ASSERT_EQ(k.exit_code, 0) << k.output;
  k = (*api)->KubectlWithFile({"apply"}, Manifest("web", "one"));
  ASSERT_EQ(k.exit_code, 0) << k.output;
  StartBerthd({"--node-name=node-a", "--kubeconfig=" + (*api)->kubeconfig()});
  WaitRunning("web");

  runtime::CommandResult r = Berthctl({"apply", "-f", "-"}, Manifest("web", "two"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (Conflict): NodeContainer default/web comes "
                                  "from the Kubernetes API; use kubectl"));
  r = Berthctl({"delete", "web"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("comes from the Kubernetes API; use kubectl"));
  EXPECT_TRUE(ManifestFiles().empty());
  // Restart and diff work on it as on any container.
  r = Berthctl({"diff", "-f", "-"}, Manifest("web", "one"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace berth::testing
