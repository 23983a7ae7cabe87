// KubeSource against the real API server emulator: two nodes, each seeing
// only its own objects.
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "controller/kube/finalizers.h"
#include "controller/kube/kube_source.h"
#include "controller/kube/testing/kube_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::kube {
namespace {

using ::testing::ElementsAre;
using testing::Emulator;
using ::testing::IsEmpty;
using testing::Spec;
using testing::WaitFor;

// What a watched source pushes.
class Changes : public controller::Source::Handler {
 public:
  void OnChange(const std::string& id) override {
    absl::MutexLock l(&mu_);
    ids_.insert(id);
  }
  void OnResync() override {
    absl::MutexLock l(&mu_);
    ++resyncs_;
  }
  int resyncs() {
    absl::MutexLock l(&mu_);
    return resyncs_;
  }
  std::set<std::string> Take() {
    absl::MutexLock l(&mu_);
    return std::exchange(ids_, {});
  }
  bool Has(const std::string& id) {
    absl::MutexLock l(&mu_);
    return ids_.count(id) > 0;
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> ids_;
  int resyncs_ = 0;
};

class FakeEvents : public controller::EventRecorder {
 public:
  void Record(const controller::NodeContainer& object, controller::EventType type,
              absl::string_view reason, absl::string_view message) override {
    absl::MutexLock l(&mu_);
    seen.push_back(absl::StrCat(controller::ContainerIdFor(object.metadata), " ",
                                type == controller::EventType::kWarning ? "Warning" : "Normal", " ",
                                reason));
  }
  std::vector<std::string> Seen() {
    absl::MutexLock l(&mu_);
    return seen;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen;
};

class FakeStatus : public controller::StatusSink {
 public:
  void Report(const controller::ContainerReport& r) override {
    absl::MutexLock l(&mu_);
    seen.push_back(r.id + " " + r.phase + " " + r.reason);
  }
  void Remove(const std::string& id) override {}
  std::vector<std::string> Seen() {
    absl::MutexLock l(&mu_);
    return seen;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen;
};

KubeSource::Options SourceOptions(const std::string& node) {
  KubeSource::Options o;
  o.node_name = node;
  o.informer.initial_backoff = absl::Milliseconds(50);
  o.informer.max_backoff = absl::Milliseconds(400);
  return o;
}

// Creates default/<name> with nodeName node-a and the given finalizers.
absl::Status CreateForNodeA(Emulator& emu, const std::string& name,
                            std::vector<std::string> finalizers = {}) {
  nlohmann::json meta = {{"name", name}, {"namespace", "default"}};
  if (!finalizers.empty()) meta["finalizers"] = finalizers;
  const nlohmann::json object = {{"apiVersion", "berth.dev/v1alpha1"},
                                 {"kind", "NodeContainer"},
                                 {"metadata", meta},
                                 {"spec", Spec({{"nodeName", "node-a"}})}};
  return emu.Call("POST", "/apis/berth.dev/v1alpha1/namespaces/default/nodecontainers", object)
      .status();
}

// Starts `source` pushing to `changes` and waits for its first list, which
// is pushed as one resync.
void StartAndSync(KubeSource& source, Changes& changes) {
  source.Watch(&changes);
  source.Start();
  ASSERT_TRUE(WaitFor([&] { return source.HasSynced(); }, absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return changes.resyncs() == 1; }, absl::Seconds(10)));
}

runtime::ContainerStatus Container(const std::string& id) {
  runtime::ContainerStatus c;
  c.id = id;
  return c;
}

TEST(KubeSourceTest, EachNodeSeesOnlyItsObjects) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  BERTH_ASSERT_OK(emu.CreateNamespace("other"));
  BERTH_ASSERT_OK(emu.CreateNode("node-a", {{"zone", "a"}}));
  BERTH_ASSERT_OK(emu.CreateNode("node-b", {{"zone", "b"}, {"disk", "ssd"}}));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "on-a", Spec({{"nodeName", "node-a"}})));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("other", "on-b", Spec({{"nodeName", "node-b"}})));
  BERTH_ASSERT_OK(
      emu.CreateNodeContainer("default", "sel-a", Spec({{"nodeSelector", {{"zone", "a"}}}})));
  BERTH_ASSERT_OK(emu.CreateNodeContainer(
      "default", "sel-b", Spec({{"nodeSelector", {{"zone", "b"}, {"disk", "ssd"}}}})));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("other", "any", Spec()));
  // nodeName and a nodeSelector the node does not match: not for it.
  BERTH_ASSERT_OK(emu.CreateNodeContainer(
      "default", "both", Spec({{"nodeName", "node-a"}, {"nodeSelector", {{"zone", "b"}}}})));

  Changes changes_a, changes_b;
  FakeEvents events;
  FakeStatus status;
  KubeSource::Options oa = SourceOptions("node-a");
  oa.events = &events;
  oa.status = &status;
  KubeSource a(emu.admin(), oa);
  KubeSource b(emu.admin(), SourceOptions("node-b"));
  a.Watch(&changes_a);
  b.Watch(&changes_b);
  EXPECT_EQ(a.Name(), "api");
  EXPECT_FALSE(a.MayRemove(Container("default.gone")));
  a.Start();
  b.Start();
  ASSERT_TRUE(WaitFor([&] { return a.HasSynced() && b.HasSynced(); }, absl::Seconds(10)));
  EXPECT_TRUE(a.MayRemove(Container("default.gone")));
  EXPECT_THAT(a.Ids(), ElementsAre("default.on-a", "default.sel-a", "other.any"));
  EXPECT_THAT(b.Ids(), ElementsAre("default.sel-b", "other.any", "other.on-b"));
  EXPECT_TRUE(changes_a.Has("default.on-a"));
  std::optional<controller::NodeContainer> on_a = a.Get("default.on-a");
  ASSERT_TRUE(on_a.has_value());
  EXPECT_EQ(on_a->spec.node_name, "node-a");
  EXPECT_EQ(on_a->source, "api");
  EXPECT_EQ(a.Lookup("default.on-a")->origin, "api");
  EXPECT_FALSE(on_a->metadata.uid.empty());
  EXPECT_FALSE(on_a->metadata.resource_version.empty());
  EXPECT_FALSE(a.Get("other.on-b").has_value());
  EXPECT_FALSE(a.Get("default.both").has_value());
  EXPECT_THAT(b.NodeLabels(),
              ::testing::Contains(std::make_pair(std::string("disk"), std::string("ssd"))));

  // The node's labels change: objects with a nodeSelector are re-evaluated.
  changes_b.Take();
  BERTH_ASSERT_OK(emu.Call("PATCH", "/api/v1/nodes/node-b",
                           nlohmann::json{{"metadata", {{"labels", {{"zone", "a"}}}}}},
                           "application/merge-patch+json"));
  ASSERT_TRUE(WaitFor([&] { return b.NodeLabels().count("zone") && b.NodeLabels()["zone"] == "a"; },
                      absl::Seconds(10)));
  EXPECT_THAT(b.Ids(), ElementsAre("default.sel-a", "other.any", "other.on-b"));
  // OnChange follows the label update (outside the source's lock).
  EXPECT_TRUE(
      WaitFor([&] { return changes_b.Has("default.sel-a") && changes_b.Has("default.sel-b"); },
              absl::Seconds(10)));
  EXPECT_EQ(changes_b.Take(), (std::set<std::string>{"default.sel-a", "default.sel-b"}));

  // An object moving to another node leaves one source for the other.
  changes_a.Take();
  BERTH_ASSERT_OK(emu.Call("PATCH", NodeContainerPath("other", "any"),
                           nlohmann::json{{"spec", {{"nodeName", "node-b"}}}},
                           "application/merge-patch+json"));
  ASSERT_TRUE(WaitFor([&] { return changes_a.Has("other.any"); }, absl::Seconds(10)));
  EXPECT_TRUE(WaitFor([&] { return !a.Get("other.any").has_value(); }, absl::Seconds(10)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return b.Get("other.any").has_value() && b.Get("other.any")->spec.node_name == "node-b";
      },
      absl::Seconds(10)));
  EXPECT_TRUE(a.IsApiObject("default.on-a"));
  EXPECT_FALSE(a.IsApiObject("other.on-b"));
  EXPECT_THAT(events.Seen(), IsEmpty());
}

TEST(KubeSourceTest, InvalidObjectsAreReportedOnceAndKept) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  BERTH_ASSERT_OK(emu.CreateNode("node-a", {}));
  // Valid for the CRD, refused by the parser (memory under 4096 bytes).
  nlohmann::json bad =
      Spec({{"nodeName", "node-a"}, {"resources", {{"limits", {{"memory", "1Ki"}}}}}});
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "bad", bad));
  Changes changes;
  FakeEvents events;
  FakeStatus status;
  KubeSource::Options o = SourceOptions("node-a");
  o.events = &events;
  o.status = &status;
  KubeSource a(emu.admin(), o);
  ASSERT_NO_FATAL_FAILURE(StartAndSync(a, changes));
  EXPECT_THAT(a.Ids(), IsEmpty());
  EXPECT_FALSE(a.Get("default.bad").has_value());
  EXPECT_TRUE(a.IsApiObject("default.bad"));
  // Its container (if it had one from an earlier valid version) is kept.
  EXPECT_FALSE(a.MayRemove(Container("default.bad")));
  EXPECT_THAT(events.Seen(), ElementsAre("default.bad Warning Failed"));
  EXPECT_THAT(status.Seen(), ElementsAre("default.bad Error InvalidSpec"));

  // Watches dropped and resumed: the same resourceVersion is not reported
  // again. A new resourceVersion is.
  BERTH_ASSERT_OK(emu.Post("/_emulator/compact"));
  BERTH_ASSERT_OK(emu.Post("/_emulator/drop-watches"));
  BERTH_ASSERT_OK(emu.Call("PATCH", NodeContainerPath("default", "bad"),
                           nlohmann::json{{"metadata", {{"labels", {{"v", "2"}}}}}},
                           "application/merge-patch+json"));
  ASSERT_TRUE(WaitFor([&] { return events.Seen().size() == 2; }, absl::Seconds(10)));
  EXPECT_EQ(status.Seen().size(), 2u);

  // Fixed: held, and its container may go when it is deleted.
  BERTH_ASSERT_OK(
      emu.Call("PATCH", NodeContainerPath("default", "bad"),
               nlohmann::json{{"spec", {{"resources", {{"limits", {{"memory", "64Mi"}}}}}}}},
               "application/merge-patch+json"));
  ASSERT_TRUE(WaitFor([&] { return a.Get("default.bad").has_value(); }, absl::Seconds(10)));
  EXPECT_EQ(a.Get("default.bad")->spec.limits.memory_bytes, 64 << 20);
  EXPECT_FALSE(a.MayRemove(Container("default.bad"))) << "the API still has it for node-a";
  EXPECT_EQ(events.Seen().size(), 2u);
  BERTH_ASSERT_OK(emu.Call("DELETE", NodeContainerPath("default", "bad")));
  ASSERT_TRUE(WaitFor([&] { return !a.IsApiObject("default.bad"); }, absl::Seconds(10)));
  EXPECT_TRUE(a.MayRemove(Container("default.bad")));
}

TEST(KubeSourceTest, ObjectsBeingDeletedStayUntilReleased) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  BERTH_ASSERT_OK(emu.CreateNode("node-a", {}));
  BERTH_ASSERT_OK(CreateForNodeA(emu, "x", {"node.berth.dev/node-a"}));
  Changes changes;
  KubeSource a(emu.admin(), SourceOptions("node-a"));
  ASSERT_NO_FATAL_FAILURE(StartAndSync(a, changes));
  BERTH_ASSERT_OK(emu.Call("DELETE", NodeContainerPath("default", "x")));
  ASSERT_TRUE(WaitFor(
      [&] {
        return a.Get("default.x").has_value() &&
               !a.Get("default.x")->metadata.deletion_timestamp.empty();
      },
      absl::Seconds(10)));
  EXPECT_THAT(a.Ids(), ElementsAre("default.x"));
  EXPECT_THAT(a.Get("default.x")->metadata.finalizers, ElementsAre("node.berth.dev/node-a"));
  BERTH_ASSERT_OK(emu.Call("PATCH", NodeContainerPath("default", "x"),
                           nlohmann::json{{"metadata", {{"finalizers", nlohmann::json::array()}}}},
                           "application/merge-patch+json"));
  EXPECT_TRUE(WaitFor([&] { return a.Ids().empty(); }, absl::Seconds(10)));
}

// A write of the status alone (berthd's own status writer does it after
// every reconcile) queues nothing; a change of the spec, the labels or the
// deletion does. Were the status write a change, a create failing with a
// changing error would be retried at the pace of its own status writes,
// not its back-off.
TEST(KubeSourceTest, StatusWritesAreNotChanges) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  BERTH_ASSERT_OK(emu.CreateNode("node-a", {}));
  BERTH_ASSERT_OK(CreateForNodeA(emu, "x"));
  Changes changes;
  KubeSource a(emu.admin(), SourceOptions("node-a"));
  ASSERT_NO_FATAL_FAILURE(StartAndSync(a, changes));
  changes.Take();
  const std::string before = a.Get("default.x")->metadata.resource_version;
  for (int i = 0; i < 3; ++i) {
    BERTH_ASSERT_OK(emu.Call(
        "PATCH", NodeContainerPath("default", "x") + "/status",
        nlohmann::json{{"status",
                        {{"nodes",
                          {{{"nodeName", "node-a"},
                            {"phase", "Pending"},
                            {"lastError", absl::StrCat("create failed, try ", i)}}}}}}},
        "application/merge-patch+json"));
  }
  // The source has the newest version (its resourceVersion moved on) ...
  ASSERT_TRUE(WaitFor(
      [&] {
        auto x = a.Get("default.x");
        return x.has_value() && x->metadata.resource_version != before;
      },
      absl::Seconds(10)));
  absl::StatusOr<nlohmann::json> now = emu.Call("GET", NodeContainerPath("default", "x"));
  ASSERT_TRUE(now.ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return a.Get("default.x")->metadata.resource_version ==
               (*now)["metadata"]["resourceVersion"].get<std::string>();
      },
      absl::Seconds(10)));
  // ... and pushed no change for it.
  EXPECT_THAT(changes.Take(), IsEmpty());
  // A label is a change.
  BERTH_ASSERT_OK(emu.Call("PATCH", NodeContainerPath("default", "x"),
                           nlohmann::json{{"metadata", {{"labels", {{"tier", "a"}}}}}},
                           "application/merge-patch+json"));
  EXPECT_TRUE(WaitFor([&] { return changes.Has("default.x"); }, absl::Seconds(10)));
  changes.Take();
  // So is the spec.
  BERTH_ASSERT_OK(emu.Call("PATCH", NodeContainerPath("default", "x"),
                           nlohmann::json{{"spec", {{"args", {"a"}}}}},
                           "application/merge-patch+json"));
  EXPECT_TRUE(WaitFor([&] { return changes.Has("default.x"); }, absl::Seconds(10)));
}

TEST(KubeSourceTest, SameDesiredStateButVersion) {
  controller::NodeContainer a;
  a.metadata.name = "x";
  a.metadata.resource_version = "1";
  a.spec.image = "busybox";
  controller::NodeContainer b = a;
  b.metadata.resource_version = "2";
  EXPECT_TRUE(SameDesiredStateButVersion(a, b));
  b.metadata.labels["k"] = "v";
  EXPECT_FALSE(SameDesiredStateButVersion(a, b));
  b = a;
  b.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  EXPECT_FALSE(SameDesiredStateButVersion(a, b));
  b = a;
  b.metadata.finalizers = {"node.berth.dev/n"};
  EXPECT_FALSE(SameDesiredStateButVersion(a, b));
  b = a;
  b.spec.image = "busybox:2";
  EXPECT_FALSE(SameDesiredStateButVersion(a, b));
}

}  // namespace
}  // namespace berth::kube
