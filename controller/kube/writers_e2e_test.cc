// KubeStatusSink, Finalizers and KubeEventRecorder against the real API
// server emulator.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/kube/finalizers.h"
#include "controller/kube/kube_events.h"
#include "controller/kube/kube_status.h"
#include "controller/kube/testing/kube_test_util.h"
#include "controller/queue/clock.h"
#include "controller/spec/spec_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::kube {
namespace {

using ::testing::ElementsAre;
using testing::Emulator;
using testing::Spec;
using ::testing::UnorderedElementsAre;
using testing::WaitFor;

// Requests whose path contains `needle`, as "METHOD code", once the log
// holds `count` of them (the emulator logs a request when it arrives and
// its code before answering) or 3 s passed.
std::vector<std::string> Sent(Emulator& emu, const std::string& needle, size_t count) {
  std::vector<std::string> out;
  auto read = [&] {
    out.clear();
    absl::StatusOr<std::vector<nlohmann::json>> log = emu.Requests();
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return true;
    for (const nlohmann::json& e : *log) {
      if (absl::StrContains(e["path"].get<std::string>(), needle)) {
        out.push_back(absl::StrCat(e["method"].get<std::string>(), " ", e["code"].get<int>()));
      }
    }
    return out.size() >= count;
  };
  if (count == 0) absl::SleepFor(absl::Milliseconds(200));
  WaitFor(read, absl::Seconds(3));
  return out;
}

controller::NodeContainer Fetch(Emulator& emu, const std::string& ns, const std::string& name) {
  absl::StatusOr<nlohmann::json> obj = emu.Call("GET", NodeContainerPath(ns, name));
  EXPECT_TRUE(obj.ok()) << obj.status();
  absl::StatusOr<controller::NodeContainer> nc =
      controller::ParseNodeContainer(obj.ok() ? obj->dump() : "{}", "api");
  EXPECT_TRUE(nc.ok()) << nc.status();
  return nc.ok() ? *nc : controller::NodeContainer();
}

nlohmann::json Status(Emulator& emu, const std::string& name) {
  absl::StatusOr<nlohmann::json> obj = emu.Call("GET", NodeContainerPath("default", name));
  EXPECT_TRUE(obj.ok()) << obj.status();
  return obj.ok() ? obj->value("status", nlohmann::json()) : nlohmann::json();
}

nlohmann::json Entry(const nlohmann::json& status, const std::string& node) {
  for (const auto& e : status.value("nodes", nlohmann::json::array())) {
    if (e["nodeName"] == node) return e;
  }
  return nullptr;
}

nlohmann::json Cond(const nlohmann::json& holder, const std::string& type) {
  for (const auto& c : holder.value("conditions", nlohmann::json::array())) {
    if (c["type"] == type) return c;
  }
  return nullptr;
}

// A name the API accepts (253 characters, a part of 100) whose id is mapped.
std::string LongName() {
  std::string name = "long-" + std::string(95, 'l') + ".";
  return name + std::string(253 - name.size(), 'n');
}

controller::ContainerReport Report(const std::string& name, const std::string& phase, int restarts,
                                   const std::string& error = "") {
  controller::ContainerReport r;
  controller::ObjectMeta meta;
  meta.name = name;
  r.id = controller::ContainerIdFor(meta);
  r.namespace_ = "default";
  r.name = name;
  r.phase = phase;
  r.restart_count = restarts;
  r.observed_generation = 1;
  r.last_error = error;
  r.container_id = r.id;
  return r;
}

KubeStatusSink::Options SinkOptions(const std::string& node, const controller::Clock* clock) {
  KubeStatusSink::Options o;
  o.node_name = node;
  // The API objects of these tests, as KubeSource::ApiObjectName finds them.
  o.api_object = [](const std::string& id) -> std::optional<controller::NamespacedName> {
    for (const std::string& name : {std::string("x"), LongName()}) {
      controller::ObjectMeta meta;
      meta.name = name;
      if (controller::ContainerIdFor(meta) == id)
        return controller::NamespacedName{"default", name};
    }
    return std::nullopt;
  };
  o.clock = clock;
  o.initial_backoff = absl::Milliseconds(100);
  o.max_backoff = absl::Milliseconds(500);
  return o;
}

TEST(KubeStatusSinkTest, NodesKeepTheirOwnEntriesAndTheSummary) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  controller::FakeClock clock;
  KubeStatusSink a(emu.admin(), SinkOptions("node-a", &clock));
  KubeStatusSink b(emu.admin(), SinkOptions("node-b", &clock));
  a.Report(Report("x", "Running", 1));
  b.Report(Report("x", "CrashLoopBackOff", 3, "start container: boom"));
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  ASSERT_TRUE(b.WaitIdle(absl::Seconds(10)));
  nlohmann::json status = Status(emu, "x");
  EXPECT_EQ(status["phase"], "CrashLoopBackOff");
  EXPECT_EQ(status["restartCount"], 4);
  EXPECT_EQ(status["observedGeneration"], 1);
  EXPECT_EQ(Cond(status, "Ready")["status"], "False");
  EXPECT_EQ(Cond(status, "Reconciled")["status"], "False");
  ASSERT_FALSE(Entry(status, "node-a").is_null());
  ASSERT_FALSE(Entry(status, "node-b").is_null());
  EXPECT_EQ(Entry(status, "node-a")["phase"], "Running");
  EXPECT_EQ(Cond(Entry(status, "node-a"), "Ready")["status"], "True");
  EXPECT_EQ(Entry(status, "node-b")["lastError"], "start container: boom");
  const std::string ready_since = Cond(Entry(status, "node-a"), "Ready")["lastTransitionTime"];

  // The same report again: no request at all; from a fresh sink: a read,
  // no write.
  BERTH_ASSERT_OK(emu.ClearRequests());
  a.Report(Report("x", "Running", 1));
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  EXPECT_THAT(Sent(emu, "/nodecontainers/", 0), ::testing::IsEmpty());
  {
    KubeStatusSink fresh(emu.admin(), SinkOptions("node-a", &clock));
    clock.Advance(absl::Hours(1));
    fresh.Report(Report("x", "Running", 1));
    ASSERT_TRUE(fresh.WaitIdle(absl::Seconds(10)));
  }
  EXPECT_THAT(Sent(emu, "/nodecontainers/", 1), ElementsAre("GET 200"));

  // A change keeps the Ready transition time while Ready stays True.
  a.Report(Report("x", "Running", 2));
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  status = Status(emu, "x");
  EXPECT_EQ(Entry(status, "node-a")["restartCount"], 2);
  EXPECT_EQ(Cond(Entry(status, "node-a"), "Ready")["lastTransitionTime"], ready_since);
  EXPECT_EQ(status["restartCount"], 5);
  a.Report(Report("x", "Failed", 2));
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  status = Status(emu, "x");
  EXPECT_NE(Cond(Entry(status, "node-a"), "Ready")["lastTransitionTime"], ready_since);
  EXPECT_EQ(status["phase"], "Failed");

  // Remove takes only this node's entry away.
  b.Remove("default.x");
  ASSERT_TRUE(b.WaitIdle(absl::Seconds(10)));
  status = Status(emu, "x");
  EXPECT_TRUE(Entry(status, "node-b").is_null());
  EXPECT_FALSE(Entry(status, "node-a").is_null());
  EXPECT_EQ(status["restartCount"], 2);

  // Ids that are not API objects are ignored.
  BERTH_ASSERT_OK(emu.ClearRequests());
  controller::ContainerReport m = Report("x", "Running", 0);
  m.id = "manifests.x";
  a.Report(m);
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  EXPECT_THAT(Sent(emu, "/nodecontainers/", 0), ::testing::IsEmpty());
  EXPECT_EQ(a.Writes(), 3);
}

// An object whose id is a hash of its names (ContainerIdFor) gets its
// status written and removed by those names.
TEST(KubeStatusSinkTest, LongNamesAreWrittenAndRemovedByTheirNames) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  const std::string name = LongName();
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", name, Spec()));
  controller::FakeClock clock;
  KubeStatusSink a(emu.admin(), SinkOptions("node-a", &clock));
  KubeStatusSink b(emu.admin(), SinkOptions("node-b", &clock));
  const controller::ContainerReport report = Report(name, "Running", 0);
  ASSERT_EQ(report.id.find('.'), std::string::npos) << report.id;
  a.Report(report);
  b.Report(report);
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  ASSERT_TRUE(b.WaitIdle(absl::Seconds(10)));
  nlohmann::json status = Status(emu, name);
  EXPECT_EQ(Entry(status, "node-a")["phase"], "Running");
  EXPECT_EQ(Entry(status, "node-a")["containerID"], report.id);
  EXPECT_FALSE(Entry(status, "node-b").is_null());

  b.Remove(report.id);
  ASSERT_TRUE(b.WaitIdle(absl::Seconds(10)));
  status = Status(emu, name);
  EXPECT_TRUE(Entry(status, "node-b").is_null()) << status.dump();
  EXPECT_FALSE(Entry(status, "node-a").is_null());
}

// A clock that, read by the sink's writer between its GET and its PUT,
// changes the object once: the PUT then conflicts.
class MeddlingClock : public controller::Clock {
 public:
  MeddlingClock(Emulator& emu, std::thread::id test_thread) : emu_(emu), test_(test_thread) {}
  absl::Time Now() const override {
    if (std::this_thread::get_id() != test_ && !done_.exchange(true)) {
      absl::StatusOr<nlohmann::json> r =
          emu_.Call("PATCH", NodeContainerPath("default", "x"),
                    nlohmann::json{{"metadata", {{"labels", {{"meddled", "yes"}}}}}},
                    "application/merge-patch+json");
      EXPECT_TRUE(r.ok()) << r.status();
    }
    return absl::Now();
  }

 private:
  Emulator& emu_;
  std::thread::id test_;
  mutable std::atomic<bool> done_{false};
};

TEST(KubeStatusSinkTest, ConflictRereadsAndOutageRetries) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  MeddlingClock clock(emu, std::this_thread::get_id());
  KubeStatusSink a(emu.admin(), SinkOptions("node-a", &clock));
  BERTH_ASSERT_OK(emu.ClearRequests());
  a.Report(Report("x", "Running", 0));
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(10)));
  EXPECT_THAT(Sent(emu, "/nodecontainers/x", 5),
              UnorderedElementsAre("GET 200", "PATCH 200", "PUT 409", "GET 200", "PUT 200"));
  EXPECT_EQ(Entry(Status(emu, "x"), "node-a")["phase"], "Running");

  // While the API is down, Report does not block, and the write happens
  // after it is back; the latest report wins.
  BERTH_ASSERT_OK(emu.Post("/_emulator/outage?seconds=2"));
  const absl::Time t = absl::Now();
  a.Report(Report("x", "Pending", 0));
  a.Report(Report("x", "Succeeded", 0));
  EXPECT_LT(absl::Now() - t, absl::Milliseconds(100));
  ASSERT_TRUE(a.WaitIdle(absl::Seconds(15)));
  EXPECT_EQ(Entry(Status(emu, "x"), "node-a")["phase"], "Succeeded");
}

// An overloaded (429, Retry-After) or failing (500 InternalError) server:
// the write is retried with growing delays, not dropped, and lands once the
// server answers again.
TEST(KubeStatusSinkTest, TooManyRequestsAndInternalErrorsAreRetried) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  controller::SystemClock clock;
  KubeStatusSink a(emu.admin(), SinkOptions("node-a", &clock));
  for (const char* code : {"429", "500"}) {
    SCOPED_TRACE(code);
    BERTH_ASSERT_OK(emu.ClearRequests());
    BERTH_ASSERT_OK(emu.Post(absl::StrCat("/_emulator/errors?code=", code, "&seconds=2")));
    const std::string phase = code == std::string("429") ? "Pending" : "Running";
    a.Report(Report("x", phase, 0));
    ASSERT_TRUE(a.WaitIdle(absl::Seconds(15)));
    EXPECT_EQ(Entry(Status(emu, "x"), "node-a")["phase"], phase);
    // Refused at first, then backed off, then written. 500 (no
    // Retry-After): 100 ms doubling to 500 ms, a few tries in 2 s, not a
    // loop. 429 (Retry-After: 1): a second between tries, as client-go
    // waits, so at most 3 in 2 s.
    std::vector<std::string> sent = Sent(emu, "/nodecontainers/x", 2);
    const std::string refused = absl::StrCat("GET ", code);
    const auto n = std::count(sent.begin(), sent.end(), refused);
    EXPECT_GE(n, code == std::string("429") ? 1 : 3) << absl::StrJoin(sent, ", ");
    EXPECT_LE(n, code == std::string("429") ? 3 : 10) << absl::StrJoin(sent, ", ");
    // The write after the refusals (the log ends with the test's own GET).
    const auto last_refused = std::find(sent.rbegin(), sent.rend(), refused);
    EXPECT_NE(std::find(sent.rbegin(), last_refused, "PUT 200"), last_refused)
        << absl::StrJoin(sent, ", ");
  }
}

TEST(FinalizersTest, AddRemoveWithConflictsAndDeletion) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  Finalizers fa(emu.admin(), "node-a");
  Finalizers fb(emu.admin(), "node-b");
  const std::string long_node(70, 'n');
  Finalizers flong(emu.admin(), long_node);
  const controller::NodeContainer stale = Fetch(emu, "default", "x");
  BERTH_ASSERT_OK(fa.Ensure(stale));
  EXPECT_THAT(Fetch(emu, "default", "x").metadata.finalizers, ElementsAre("node.berth.dev/node-a"));
  BERTH_ASSERT_OK(emu.ClearRequests());
  BERTH_ASSERT_OK(fa.Ensure(Fetch(emu, "default", "x")));
  EXPECT_THAT(Sent(emu, "/nodecontainers/x", 1), ElementsAre("GET 200"));  // only Fetch's
  // From a stale copy: 409, re-read, and node-a's finalizer is kept.
  BERTH_ASSERT_OK(emu.ClearRequests());
  BERTH_ASSERT_OK(fb.Ensure(stale));
  EXPECT_THAT(Sent(emu, "/nodecontainers/x", 3),
              UnorderedElementsAre("PATCH 409", "GET 200", "PATCH 200"));
  BERTH_ASSERT_OK(flong.Ensure(Fetch(emu, "default", "x")));
  EXPECT_THAT(
      Fetch(emu, "default", "x").metadata.finalizers,
      ElementsAre("node.berth.dev/node-a", "node.berth.dev/node-b", FinalizerName(long_node)));

  BERTH_ASSERT_OK(emu.Call("DELETE", NodeContainerPath("default", "x")));
  controller::NodeContainer deleting = Fetch(emu, "default", "x");
  EXPECT_FALSE(deleting.metadata.deletion_timestamp.empty());
  Finalizers fc(emu.admin(), "node-c");
  EXPECT_TRUE(absl::IsFailedPrecondition(fc.Ensure(deleting)));
  BERTH_ASSERT_OK(fa.Ensure(deleting));  // has it already
  BERTH_ASSERT_OK(fa.Remove(deleting));
  BERTH_ASSERT_OK(flong.Remove(Fetch(emu, "default", "x")));
  EXPECT_THAT(Fetch(emu, "default", "x").metadata.finalizers, ElementsAre("node.berth.dev/node-b"));
  // Only the name known (no resourceVersion): read first, then remove.
  controller::NodeContainer name_only;
  name_only.metadata.name = "x";
  name_only.metadata.namespace_ = "default";
  BERTH_ASSERT_OK(fb.Remove(name_only));
  absl::StatusOr<ApiResponse> gone = emu.admin().Request("GET", NodeContainerPath("default", "x"));
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->code, 404);
  BERTH_ASSERT_OK(fb.Remove(name_only));
  BERTH_ASSERT_OK(fb.Remove(deleting));
  EXPECT_TRUE(absl::IsNotFound(fa.Ensure(name_only)));
}

TEST(FinalizersTest, DecidesFromTheServersAnswerNotAnOlderCopy) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  Finalizers fa(emu.admin(), "node-a");
  const controller::NodeContainer unclaimed = Fetch(emu, "default", "x");
  for (int round = 0; round < 3; ++round) {
    BERTH_ASSERT_OK(fa.Ensure(unclaimed));
    const controller::NodeContainer claimed = Fetch(emu, "default", "x");
    ASSERT_THAT(claimed.metadata.finalizers, ElementsAre("node.berth.dev/node-a"));
    BERTH_ASSERT_OK(fa.Remove(claimed));
    ASSERT_THAT(Fetch(emu, "default", "x").metadata.finalizers, ::testing::IsEmpty());
    // An informer's copy from before the removal still lists the finalizer:
    // the server's answer to the removal wins.
    BERTH_ASSERT_OK(fa.Ensure(claimed));
    EXPECT_THAT(Fetch(emu, "default", "x").metadata.finalizers,
                ElementsAre("node.berth.dev/node-a"))
        << "round " << round;
    // And a copy from before the add does not list it: removed all the same.
    BERTH_ASSERT_OK(fa.Remove(unclaimed));
    EXPECT_THAT(Fetch(emu, "default", "x").metadata.finalizers, ::testing::IsEmpty())
        << "round " << round;
  }
  // A copy that agrees with the last answer is trusted: nothing is sent.
  BERTH_ASSERT_OK(fa.Ensure(unclaimed));
  const controller::NodeContainer claimed = Fetch(emu, "default", "x");
  BERTH_ASSERT_OK(emu.ClearRequests());
  BERTH_ASSERT_OK(fa.Ensure(claimed));
  EXPECT_THAT(Sent(emu, "/nodecontainers/x", 0), ::testing::IsEmpty());
  // Removed by hand: the copy that shows it is not trusted blindly either
  // (it disagrees with the last answer), and the finalizer goes back.
  BERTH_ASSERT_OK(emu.Call("PATCH", NodeContainerPath("default", "x"),
                           nlohmann::json::parse(R"({"metadata":{"finalizers":null}})"),
                           "application/merge-patch+json"));
  BERTH_ASSERT_OK(fa.Ensure(Fetch(emu, "default", "x")));
  EXPECT_THAT(Fetch(emu, "default", "x").metadata.finalizers, ElementsAre("node.berth.dev/node-a"));
}

std::vector<nlohmann::json> Events(Emulator& emu) {
  absl::StatusOr<nlohmann::json> list = emu.Call("GET", "/api/v1/namespaces/default/events");
  EXPECT_TRUE(list.ok()) << list.status();
  std::vector<nlohmann::json> out;
  if (list.ok()) {
    for (const auto& e : (*list)["items"]) out.push_back(e);
  }
  return out;
}

TEST(KubeEventRecorderTest, AggregatesRepeatsLikeKubelet) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  const controller::NodeContainer x = Fetch(emu, "default", "x");
  controller::FakeClock clock;
  KubeEventRecorder::Options o;
  o.node_name = "node-a";
  o.clock = &clock;
  KubeEventRecorder rec(emu.admin(), o);
  BERTH_ASSERT_OK(emu.ClearRequests());
  for (int i = 0; i < 3; ++i) {
    rec.Record(x, controller::EventType::kNormal, "Started", "Started container");
    clock.Advance(absl::Seconds(10));
  }
  rec.Record(x, controller::EventType::kWarning, "BackOff", "Back-off restarting failed container");
  controller::NodeContainer manifest = x;
  manifest.metadata.uid.clear();
  rec.Record(manifest, controller::EventType::kNormal, "Started", "not an API object");
  ASSERT_TRUE(rec.WaitIdle(absl::Seconds(10)));
  EXPECT_THAT(Sent(emu, "/events", 4),
              UnorderedElementsAre("POST 201", "PATCH 200", "PATCH 200", "POST 201"));
  std::vector<nlohmann::json> events = Events(emu);
  ASSERT_EQ(events.size(), 2u);
  const nlohmann::json& started = events[0]["reason"] == "Started" ? events[0] : events[1];
  const nlohmann::json& backoff = events[0]["reason"] == "Started" ? events[1] : events[0];
  EXPECT_EQ(started["count"], 3);
  EXPECT_EQ(started["type"], "Normal");
  EXPECT_EQ(started["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(started["lastTimestamp"], "2023-11-14T22:13:40Z");
  EXPECT_EQ(started["source"], (nlohmann::json{{"component", "berthd"}, {"host", "node-a"}}));
  EXPECT_EQ(started["reportingComponent"], "berth.dev/berthd");
  EXPECT_EQ(started["reportingInstance"], "node-a");
  EXPECT_EQ(started["involvedObject"]["kind"], "NodeContainer");
  EXPECT_EQ(started["involvedObject"]["apiVersion"], "berth.dev/v1alpha1");
  EXPECT_EQ(started["involvedObject"]["uid"], x.metadata.uid);
  EXPECT_EQ(backoff["type"], "Warning");
  EXPECT_EQ(backoff["count"], 1);

  // Past the 10 minute window: a new Event. A deleted Event: a new one too.
  clock.Advance(absl::Minutes(11));
  rec.Record(x, controller::EventType::kNormal, "Started", "Started container");
  ASSERT_TRUE(rec.WaitIdle(absl::Seconds(10)));
  EXPECT_EQ(Events(emu).size(), 3u);
  std::string newest;
  for (const auto& e : Events(emu)) {
    if (e["reason"] == "Started" && e["count"] == 1) newest = e["metadata"]["name"];
  }
  ASSERT_FALSE(newest.empty());
  BERTH_ASSERT_OK(emu.Call("DELETE", "/api/v1/namespaces/default/events/" + newest));
  BERTH_ASSERT_OK(emu.ClearRequests());
  clock.Advance(absl::Seconds(1));
  rec.Record(x, controller::EventType::kNormal, "Started", "Started container");
  ASSERT_TRUE(rec.WaitIdle(absl::Seconds(10)));
  EXPECT_THAT(Sent(emu, "/events", 2), UnorderedElementsAre("PATCH 404", "POST 201"));
  EXPECT_EQ(Events(emu).size(), 3u);
  EXPECT_EQ(rec.Dropped(), 0);
}

TEST(KubeEventRecorderTest, FullQueueDropsAndCounts) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "x"));
  const controller::NodeContainer x = Fetch(emu, "default", "x");
  KubeEventRecorder::Options o;
  o.node_name = "node-a";
  o.queue_capacity = 2;
  KubeEventRecorder rec(emu.admin(), o);
  BERTH_ASSERT_OK(emu.Post("/_emulator/outage?seconds=2"));
  const absl::Time t = absl::Now();
  for (int i = 0; i < 20; ++i) {
    rec.Record(x, controller::EventType::kNormal, "Pulling", absl::StrCat("Pulling ", i));
  }
  EXPECT_LT(absl::Now() - t, absl::Milliseconds(100));  // never blocks
  // At most one being sent and two queued.
  EXPECT_GE(rec.Dropped(), 17);
  ASSERT_TRUE(rec.WaitIdle(absl::Seconds(20)));
  EXPECT_EQ(rec.Dropped() + rec.Failed() + static_cast<int64_t>(Events(emu).size()), 20);
}

}  // namespace
}  // namespace berth::kube
