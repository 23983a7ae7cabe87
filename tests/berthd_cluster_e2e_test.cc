// berthd in cluster mode, end to end: the real binary with real runc, the
// API emulator (hack/kube-emulator) and the real kubectl driving it the way a
// cluster's users do. Every test checks for leaks afterwards.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
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
#include "tests/registry_env.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::KubeEmulator;
using ::berth::testing::OwnedProcess;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(30);

// A NodeContainer that exits with 0 on SIGTERM and prints `word`.
std::string Object(const std::string& name, const std::string& word,
                   const std::string& extra_spec = "") {
  return absl::StrCat(
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ", name,
      "\nspec:\n  image: busybox\n  command: [\"sh\", \"-c\", ",
      json(absl::StrCat("trap 'exit 0' TERM; while true; do echo ", word, "; sleep 0.1; done"))
          .dump(),
      "]\n  terminationGracePeriodSeconds: 20\n", extra_spec);
}

std::string NodeObject(const std::string& name, const std::string& labels) {
  return absl::StrCat("apiVersion: v1\nkind: Node\nmetadata:\n  name: ", name, "\n  labels: {",
                      labels, "}\n");
}

bool Alive(int pid) { return pid > 0 && kill(pid, 0) == 0 && runtime::ProcessStartTime(pid) != 0; }

// One node: a berthd with its own state, run and cgroup directories.
struct Node {
  explicit Node(std::string node_name) : name(std::move(node_name)) {
    EXPECT_TRUE(world.AddBusyboxImage().ok());
  }

  // `tuned`: shorter periods and back-off than berthd's defaults.
  void Start(const KubeEmulator& api, std::vector<std::string> extra = {}, bool tuned = true) {
    std::vector<std::string> argv = {BERTH_BERTHD_PATH, "--node-name=" + name,
                                     "--kubeconfig=" + api.kubeconfig(),
                                     "--manifests-dir=", "--images-dir=" + world.dir() + "/images"};
    for (std::string& f : berth::testing::BerthdTestFlags(world)) argv.push_back(std::move(f));
    if (tuned) {
      for (const char* f : {"--relist-period=100ms", "--resync-period=2s",
                            "--restart-backoff-initial=300ms", "--workers=2"}) {
        argv.push_back(f);
      }
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(berthd.Start(argv, world.dir() + "/berthd.log").ok());
  }

  // The containers running on this node: id -> pid.
  std::map<std::string, int> Running() const {
    std::map<std::string, int> out;
    auto rt = runtime::RuncRuntime::Open(world.RuntimeOptions());
    if (!rt.ok()) return out;
    auto all = (*rt)->List();
    if (!all.ok()) return out;
    for (const auto& c : *all) {
      if (c.state == runtime::ContainerState::kRunning) out[c.id] = c.pid;
    }
    return out;
  }

  // Stops berthd, deletes what it left and returns the leaks.
  std::vector<std::string> TearDown() {
    berthd.Stop(SIGKILL);
    std::vector<std::string> left = world.RemoveContainers();
    for (std::string& leak : world.Leaks()) left.push_back(std::move(leak));
    return left;
  }

  std::string name;
  TestWorld world;
  OwnedProcess berthd;
};

class ClusterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(berth::testing::KubectlPath().empty()) << "kubectl is not installed";
    auto api = KubeEmulator::Start(api_world_.dir(), {"--bookmark-interval=1"});
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = *std::move(api);
    Ok(api_->Kubectl({"apply", "-f", BERTH_SOURCE_DIR "/crds/"}));
    Ok(api_->KubectlWithFile({"apply"}, NodeObject("node-a", "zone: north")));
    Ok(api_->KubectlWithFile({"apply"}, NodeObject("node-b", "zone: south")));
  }

  void TearDown() override {
    for (auto& [name, node] : nodes_) {
      if (HasFailure()) std::cerr << "berthd " << name << " log:\n" << node->berthd.Log();
      EXPECT_THAT(node->TearDown(), IsEmpty()) << name;
    }
    if (HasFailure() && api_) std::cerr << "emulator log:\n" << api_->Log();
  }

  Node& StartNode(const std::string& name, std::vector<std::string> extra = {}, bool tuned = true) {
    auto& node = nodes_[name];
    node = std::make_unique<Node>(name);
    node->Start(*api_, std::move(extra), tuned);
    return *node;
  }

  // Whether the object lists `node`'s finalizer.
  static bool HasFinalizer(const json& object, const std::string& node) {
    if (object.is_null()) return false;
    for (const json& f : object["metadata"].value("finalizers", json::array())) {
      if (f == "node.berth.dev/" + node) return true;
    }
    return false;
  }

  std::string Ok(const runtime::CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  // The object as kubectl shows it; null when it does not exist.
  json Get(const std::string& name) {
    runtime::CommandResult r = api_->Kubectl({"get", "nodecontainer", name, "-o", "json"});
    if (r.exit_code != 0) return nullptr;
    json j = json::parse(r.output, nullptr, false);
    return j.is_discarded() ? nullptr : j;
  }

  // This node's entry in the object's status; null when there is none.
  static json Entry(const json& object, const std::string& node) {
    if (object.is_null() || !object.contains("status")) return nullptr;
    for (const json& e : object["status"].value("nodes", json::array())) {
      if (e.value("nodeName", "") == node) return e;
    }
    return nullptr;
  }

  // Waits until `pred(object)` holds; returns the last object seen.
  template <typename Pred>
  json WaitObject(const std::string& name, Pred pred, absl::Duration timeout = kWait) {
    json last;
    bool ok = WaitFor(
        [&] {
          last = Get(name);
          return pred(last);
        },
        timeout);
    EXPECT_TRUE(ok) << name << " never matched; last: " << last.dump();
    return last;
  }

  // Waits until `node` reports the object Running at its generation.
  json WaitRunning(const std::string& name, const std::string& node) {
    return WaitObject(name, [&](const json& o) {
      json e = Entry(o, node);
      return !e.is_null() && e.value("phase", "") == "Running" && e.contains("pid") &&
             e.value("observedGeneration", 0) == o["metadata"].value("generation", -1);
    });
  }

  TestWorld api_world_;
  std::unique_ptr<KubeEmulator> api_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

TEST_F(ClusterE2eTest, ApplyEditDeleteWithKubectl) {
  Node& a = StartNode("node-a");
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "one", "  nodeName: node-a\n")));
  json running = WaitRunning("web", "node-a");
  const int pid = Entry(running, "node-a")["pid"];
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(a.Running().count("default.web"), 1u);
  EXPECT_EQ(running["status"]["phase"], "Running");
  EXPECT_THAT(running["metadata"]["finalizers"].dump(), HasSubstr("node.berth.dev/node-a"));
  std::string table = Ok(api_->Kubectl({"get", "nodecontainers"}));
  EXPECT_THAT(table, HasSubstr("Running"));
  EXPECT_THAT(table, HasSubstr("node-a"));
  std::string events = Ok(api_->Kubectl({"get", "events", "-o", "json"}));
  EXPECT_THAT(events, HasSubstr("Started"));

  // An edit of the spec: a new container, and the status follows the
  // generation.
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "two", "  nodeName: node-a\n")));
  json edited = WaitObject("web", [&](const json& o) {
    json e = Entry(o, "node-a");
    return !e.is_null() && e.value("observedGeneration", 0) == 2 &&
           e.value("phase", "") == "Running" && e.value("pid", 0) != pid;
  });
  EXPECT_EQ(edited["metadata"]["generation"], 2);
  EXPECT_FALSE(Alive(pid));
  const int pid2 = Entry(edited, "node-a")["pid"];

  // Delete: stopped within its grace period (it exits on SIGTERM), the
  // finalizer removed, the object gone.
  const absl::Time begin = absl::Now();
  Ok(api_->Kubectl({"delete", "nodecontainer", "web", "--timeout=60s"}, absl::Seconds(70)));
  EXPECT_LT(absl::Now() - begin, absl::Seconds(20));
  EXPECT_TRUE(Get("web").is_null());
  EXPECT_FALSE(Alive(pid2));
  EXPECT_TRUE(WaitFor([&] { return a.Running().empty(); }, kWait));
}

TEST_F(ClusterE2eTest, TwoNodesEachRunOnlyTheirOwn) {
  Node& a = StartNode("node-a");
  Node& b = StartNode("node-b");
  Ok(api_->KubectlWithFile({"apply"}, Object("for-a", "a", "  nodeName: node-a\n")));
  Ok(api_->KubectlWithFile({"apply"}, Object("for-b", "b", "  nodeName: node-b\n")));
  Ok(api_->KubectlWithFile({"apply"}, Object("south", "s", "  nodeSelector: {zone: south}\n")));
  Ok(api_->KubectlWithFile({"apply"}, Object("everywhere", "e")));
  WaitRunning("for-a", "node-a");
  WaitRunning("for-b", "node-b");
  WaitRunning("south", "node-b");
  WaitRunning("everywhere", "node-a");
  json both = WaitRunning("everywhere", "node-b");
  EXPECT_EQ(both["status"]["nodes"].size(), 2u) << "one node's status overwrote the other's";
  EXPECT_EQ(a.Running().size(), 2u);
  EXPECT_EQ(a.Running().count("default.for-a"), 1u);
  EXPECT_EQ(b.Running().size(), 3u);
  EXPECT_EQ(b.Running().count("default.for-a"), 0u);

  // node-a joins the south zone: it starts "south" too.
  Ok(api_->Kubectl({"label", "node", "node-a", "zone=south", "--overwrite"}));
  WaitRunning("south", "node-a");
  // And leaves it: its container goes, node-b's stays.
  Ok(api_->Kubectl({"label", "node", "node-a", "zone=north", "--overwrite"}));
  EXPECT_TRUE(WaitFor([&] { return a.Running().count("default.south") == 0; }, kWait));
  EXPECT_EQ(b.Running().count("default.south"), 1u);

  // Deleting an object running on both nodes waits for both.
  Ok(api_->Kubectl({"delete", "nodecontainer", "everywhere", "--timeout=60s"}, absl::Seconds(70)));
  EXPECT_TRUE(Get("everywhere").is_null());
  EXPECT_EQ(a.Running().count("default.everywhere"), 0u);
  EXPECT_EQ(b.Running().count("default.everywhere"), 0u);
}

TEST_F(ClusterE2eTest, MovedToAnotherNodeLeavesNoFinalizerBehind) {
  Node& a = StartNode("node-a");
  Node& b = StartNode("node-b");
  Ok(api_->KubectlWithFile({"apply"}, Object("mover", "m", "  nodeName: node-a\n")));
  WaitRunning("mover", "node-a");
  Ok(api_->KubectlWithFile({"apply"}, Object("mover", "m", "  nodeName: node-b\n")));
  json moved = WaitObject("mover", [](const json& o) {
    json e = Entry(o, "node-b");
    return !e.is_null() && e.value("phase", "") == "Running" &&
           o["metadata"].value("finalizers", json::array()).dump() ==
               json::array({"node.berth.dev/node-b"}).dump();
  });
  EXPECT_TRUE(WaitFor([&] { return a.Running().empty(); }, kWait));
  EXPECT_EQ(b.Running().count("default.mover"), 1u);
  Ok(api_->Kubectl({"delete", "nodecontainer", "mover", "--timeout=60s"}, absl::Seconds(70)));
  EXPECT_TRUE(Get("mover").is_null());
  EXPECT_TRUE(b.Running().empty());
}

TEST_F(ClusterE2eTest, TargetingByNameInsteadOfSelectorKeepsTheContainer) {
  // Between the node's two watches (nodeName "" and nodeName node-a): the
  // same container goes on, whichever watch tells first.
  Node& a = StartNode("node-a");
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeSelector: {zone: north}\n")));
  const int pid = Entry(WaitRunning("web", "node-a"), "node-a")["pid"];
  for (int round = 0; round < 3; ++round) {
    Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeName: node-a\n")));
    WaitObject("web", [](const json& o) { return o["spec"].value("nodeName", "") == "node-a"; });
    absl::SleepFor(absl::Milliseconds(500));
    Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeSelector: {zone: north}\n")));
    absl::SleepFor(absl::Milliseconds(500));
  }
  WaitRunning("web", "node-a");
  EXPECT_EQ(a.Running()["default.web"], pid) << "the container was replaced";
}

// A name the API accepts (220 characters, a part of 100) runs under its
// mapped id; the container is kept while the object moves between the
// node's two watches, and removed with this node's finalizer when the
// object goes to another node: all by the object's names, not its id.
TEST_F(ClusterE2eTest, LongNameRunsAndMovesByItsNames) {
  std::string name = "collector.metrics-" + std::string(92, 'm') + ".";
  name += std::string(220 - name.size(), 'z');
  controller::ObjectMeta meta;
  meta.name = name;
  const std::string id = controller::ContainerIdFor(meta);
  ASSERT_NE(id, "default." + name);
  auto& slot = nodes_["node-a"];
  slot = std::make_unique<Node>("node-a");
  Node& a = *slot;
  a.Start(*api_, {}, /*tuned=*/false);
  Ok(api_->KubectlWithFile({"apply"}, Object(name, "w", "  nodeSelector: {zone: north}\n")));
  json running = WaitRunning(name, "node-a");
  EXPECT_EQ(Entry(running, "node-a")["containerID"], id);
  EXPECT_EQ(running["status"]["phase"], "Running");
  const int pid = Entry(running, "node-a")["pid"];
  EXPECT_EQ(a.Running()[id], pid);

  for (int round = 0; round < 3; ++round) {
    Ok(api_->KubectlWithFile({"apply"}, Object(name, "w", "  nodeName: node-a\n")));
    WaitObject(name, [](const json& o) { return o["spec"].value("nodeName", "") == "node-a"; });
    absl::SleepFor(absl::Milliseconds(1500));
    Ok(api_->KubectlWithFile({"apply"}, Object(name, "w", "  nodeSelector: {zone: north}\n")));
    absl::SleepFor(absl::Milliseconds(1500));
  }
  WaitRunning(name, "node-a");
  EXPECT_EQ(a.Running()[id], pid) << "the container was replaced";

  // To a node with no berthd: node-a's container and finalizer go.
  Ok(api_->KubectlWithFile({"apply"}, Object(name, "w", "  nodeName: node-b\n")));
  WaitObject(name, [](const json& o) {
    return !o.is_null() && o["metadata"].value("finalizers", json::array()).empty();
  });
  EXPECT_TRUE(WaitFor([&] { return a.Running().empty(); }, kWait));
  EXPECT_FALSE(Alive(pid));
  Ok(api_->Kubectl({"delete", "nodecontainer", name, "--timeout=60s"}, absl::Seconds(70)));
  EXPECT_TRUE(Get(name).is_null());
}

TEST_F(ClusterE2eTest, DroppedWatchesAndCompactionMissNothing) {
  Node& a = StartNode("node-a");
  for (const char* n : {"keep", "edit", "gone"}) {
    Ok(api_->KubectlWithFile({"apply"}, Object(n, n, "  nodeName: node-a\n")));
  }
  WaitRunning("gone", "node-a");
  WaitRunning("edit", "node-a");
  const int keep_pid = Entry(WaitRunning("keep", "node-a"), "node-a")["pid"];

  // Changes while watches are dropped and their history is compacted away.
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(api_->Control("drop-watches").ok());
    ASSERT_TRUE(api_->Control("compact").ok());
  }
  Ok(api_->Kubectl({"delete", "nodecontainer", "gone", "--wait=false"}));
  ASSERT_TRUE(api_->Control("drop-watches").ok());
  Ok(api_->KubectlWithFile({"apply"}, Object("edit", "edited", "  nodeName: node-a\n")));
  ASSERT_TRUE(api_->Control("compact").ok());
  Ok(api_->KubectlWithFile({"apply"}, Object("new", "new", "  nodeName: node-a\n")));
  ASSERT_TRUE(api_->Control("drop-watches").ok());

  WaitRunning("new", "node-a");
  WaitObject("edit", [](const json& o) {
    json e = Entry(o, "node-a");
    return !e.is_null() && e.value("observedGeneration", 0) == 2 &&
           e.value("phase", "") == "Running";
  });
  EXPECT_TRUE(WaitFor([&] { return Get("gone").is_null(); }, kWait)) << "finalizer never removed";
  EXPECT_TRUE(WaitFor(
      [&] {
        auto running = a.Running();
        return running.size() == 3 && running.count("default.gone") == 0;
      },
      kWait));
  EXPECT_EQ(a.Running()["default.keep"], keep_pid) << "an unchanged container was touched";
}

TEST_F(ClusterE2eTest, ApiOutageLeavesContainersAloneAndConvergesAfter) {
  Node& a = StartNode("node-a");
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeName: node-a\n")));
  const int pid = Entry(WaitRunning("web", "node-a"), "node-a")["pid"];

  ASSERT_TRUE(api_->Control("outage?seconds=4").ok());
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(a.Running()["default.web"], pid) << "the outage touched a running container";
  absl::SleepFor(absl::Seconds(2));

  // Back: a change made now is picked up.
  Ok(api_->KubectlWithFile({"apply"}, Object("later", "l", "  nodeName: node-a\n")));
  WaitRunning("later", "node-a");
  EXPECT_EQ(a.Running()["default.web"], pid);
}

TEST_F(ClusterE2eTest, BerthdRestartAdoptsAndStandaloneRunsBeside) {
  // A manifests directory next to the API.
  Node& a = *(nodes_["node-a"] = std::make_unique<Node>("node-a"));
  const std::string dir = a.world.dir() + "/manifests";
  ASSERT_TRUE(runtime::MakeDirs(dir).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(dir + "/local.yaml", Object("local", "l")).ok());
  a.Start(*api_, {"--manifests-dir=" + dir});
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeName: node-a\n")));
  const int pid = Entry(WaitRunning("web", "node-a"), "node-a")["pid"];
  EXPECT_TRUE(WaitFor([&] { return a.Running().count("default.local") == 1; }, kWait));
  const int local_pid = a.Running()["default.local"];

  // kill -9 and start again: both adopted as they are.
  a.berthd.Stop(SIGKILL);
  a.Start(*api_, {"--manifests-dir=" + dir});
  ASSERT_TRUE(WaitFor([&] { return a.berthd.CountInLog("adopted") >= 2; }, kWait));
  absl::SleepFor(absl::Seconds(2));  // a few relists and the first list
  auto running = a.Running();
  EXPECT_EQ(running["default.web"], pid);
  EXPECT_EQ(running["default.local"], local_pid);
}

TEST_F(ClusterE2eTest, ImagePullSecretsOpenAPrivateRegistry) {
  berth::testing::RegistryEnvOptions ro;
  ro.tls = true;
  ro.user = "puller";
  ro.password = "s3cret-pw";
  auto registry = berth::testing::RegistryEnv::Start(ro);
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_TRUE((*registry)->PushTestImages({"busybox"}).ok());
  const std::string image = (*registry)->host() + "/busybox:1";
  StartNode("node-a", {"--registry-ca=" + (*registry)->host() + "=" + (*registry)->ca_file()});

  // Without credentials the registry says no: ErrImagePull, then back-off.
  Ok(api_->KubectlWithFile(
      {"apply"}, absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n"
                              "  name: private\nspec:\n  image: ",
                              image,
                              "\n  command: [sleep, \"1000\"]\n  stopSignal: SIGKILL\n"
                              "  nodeName: node-a\n  imagePullSecrets: [{name: regcred}]\n")));
  json denied = WaitObject("private", [](const json& o) {
    json e = Entry(o, "node-a");
    return !e.is_null() &&
           (e.value("reason", "") == "ErrImagePull" || e.value("reason", "") == "ImagePullBackOff");
  });
  EXPECT_EQ(denied["status"]["phase"], "Pending");

  // The secret arrives: the next attempt pulls with it.
  const std::string auth = absl::Base64Escape("puller:s3cret-pw");
  const std::string config =
      absl::StrCat("{\"auths\":{\"", (*registry)->host(), "\":{\"auth\":\"", auth, "\"}}}");
  Ok(api_->KubectlWithFile(
      {"apply"}, absl::StrCat("apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n"
                              "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ",
                              absl::Base64Escape(config), "\n")));
  json running = WaitRunning("private", "node-a");
  EXPECT_THAT(Entry(running, "node-a").value("imageID", ""), ::testing::StartsWith("sha256:"));
  std::string events = Ok(api_->Kubectl({"get", "events", "-o", "json"}));
  EXPECT_THAT(events, HasSubstr("Pulled"));
  EXPECT_THAT(events, HasSubstr("Failed to pull image"));
}

TEST_F(ClusterE2eTest, DeletedWhileBerthdWasDownIsCleanedUpAfter) {
  Node& a = StartNode("node-a");
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeName: node-a\n")));
  const int pid = Entry(WaitRunning("web", "node-a"), "node-a")["pid"];
  a.berthd.Stop(SIGKILL);
  // Deleted meanwhile: the object waits for node-a's finalizer.
  Ok(api_->Kubectl({"delete", "nodecontainer", "web", "--wait=false"}));
  json deleting = Get("web");
  ASSERT_FALSE(deleting.is_null());
  EXPECT_TRUE(deleting["metadata"].contains("deletionTimestamp"));
  EXPECT_TRUE(Alive(pid));
  a.Start(*api_);
  EXPECT_TRUE(WaitFor([&] { return Get("web").is_null(); }, kWait));
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(a.Running().empty());
}

TEST_F(ClusterE2eTest, RestartsOfBerthdKeepANodeSelectorContainer) {
  // kill -9 and start again, with berthd's default flags: after a start the
  // objects may be listed before the Node's labels; a container chosen by
  // nodeSelector must not be removed meanwhile.
  Node& a = StartNode("node-a", {}, /*tuned=*/false);
  Ok(api_->KubectlWithFile({"apply"}, Object("sel", "s", "  nodeSelector: {zone: north}\n")));
  const int pid = Entry(WaitRunning("sel", "node-a"), "node-a")["pid"];
  for (int round = 0; round < 8; ++round) {
    a.berthd.Stop(SIGKILL);
    const int listed = a.berthd.CountInLog("the API is listed");
    a.Start(*api_, {}, /*tuned=*/false);
    ASSERT_TRUE(WaitFor([&] { return a.berthd.CountInLog("the API is listed") > listed; }, kWait));
    absl::SleepFor(absl::Milliseconds(500));  // the reconciles that follow the first list
    EXPECT_EQ(a.Running()["default.sel"], pid) << "round " << round;
  }
  EXPECT_EQ(a.berthd.CountInLog("delete container default.sel"), 0);
  EXPECT_TRUE(Alive(pid));
  EXPECT_TRUE(HasFinalizer(WaitRunning("sel", "node-a"), "node-a"));
}

TEST_F(ClusterE2eTest, AFinalizerRemovedByHandIsPutBack) {
  Node& a = StartNode("node-a", {}, /*tuned=*/false);
  Ok(api_->KubectlWithFile({"apply"}, Object("web", "w", "  nodeName: node-a\n")));
  const int pid = Entry(WaitRunning("web", "node-a"), "node-a")["pid"];
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(HasFinalizer(
        WaitObject("web", [](const json& o) { return HasFinalizer(o, "node-a"); }), "node-a"));
    std::string out = Ok(api_->Kubectl({"patch", "nodecontainer", "web", "--type=merge", "-p",
                                        R"({"metadata":{"finalizers":null}})"}));
    EXPECT_THAT(out, ::testing::Not(HasSubstr("no change")));
    json back = WaitObject(
        "web", [](const json& o) { return HasFinalizer(o, "node-a"); }, absl::Seconds(10));
    EXPECT_TRUE(HasFinalizer(back, "node-a")) << "round " << round;
  }
  EXPECT_EQ(a.Running()["default.web"], pid);
  // The deletion waits for the container again.
  Ok(api_->Kubectl({"delete", "nodecontainer", "web", "--timeout=60s"}, absl::Seconds(70)));
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(a.Running().empty());
}

TEST_F(ClusterE2eTest, TheFinalizerSurvivesLeavingAndRejoiningTheSelector) {
  // The node leaves the selector and rejoins it at once: the container goes
  // (its finalizer released) and comes back (claimed again), while the
  // informer's copy may still show the finalizer the release removed.
  Node& a = StartNode("node-a", {}, /*tuned=*/false);
  Ok(api_->KubectlWithFile({"apply"}, Object("sel", "s", "  nodeSelector: {zone: north}\n")));
  int pid = Entry(WaitRunning("sel", "node-a"), "node-a")["pid"];
  for (int round = 0; round < 4; ++round) {
    Ok(api_->Kubectl({"label", "node", "node-a", "zone=south", "--overwrite"}));
    ASSERT_TRUE(WaitFor([&] { return a.berthd.CountInLog("delete container default.sel") > round; },
                        kWait));
    Ok(api_->Kubectl({"label", "node", "node-a", "zone=north", "--overwrite"}));
    json running = WaitObject("sel", [&](const json& o) {
      json e = Entry(o, "node-a");
      return !e.is_null() && e.value("phase", "") == "Running" && e.value("pid", 0) != pid;
    });
    pid = Entry(running, "node-a").value("pid", 0);
    // The container runs: its finalizer is there (in bounded time) and stays.
    EXPECT_TRUE(HasFinalizer(
        WaitObject(
            "sel", [](const json& o) { return HasFinalizer(o, "node-a"); }, absl::Seconds(5)),
        "node-a"))
        << "round " << round;
    absl::SleepFor(absl::Milliseconds(500));
    EXPECT_TRUE(HasFinalizer(Get("sel"), "node-a")) << "round " << round;
  }
  Ok(api_->Kubectl({"delete", "nodecontainer", "sel", "--timeout=60s"}, absl::Seconds(70)));
  EXPECT_FALSE(Alive(pid));
  EXPECT_TRUE(a.Running().empty());
}

}  // namespace
}  // namespace berth
