#include "controller/api/node_view.h"

#include <thread>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

using controller::ContainerReport;
using controller::NodeContainer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Type = v1::WatchEvent;

NodeContainer Object(const std::string& name, const std::string& image = "busybox") {
  NodeContainer o;
  o.metadata.name = name;
  o.metadata.labels = {{"app", name}};
  o.spec.image = image;
  o.source = "/etc/berth/manifests/" + name + ".yaml:3";
  o.origin = "manifests";
  return o;
}

ContainerReport ReportOf(const std::string& name, const std::string& phase, int restarts = 0) {
  ContainerReport r;
  r.id = "default." + name;
  r.namespace_ = "default";
  r.name = name;
  r.phase = phase;
  r.container_id = r.id;
  r.image = "busybox";
  r.restart_count = restarts;
  r.created_at = controller::FakeClock::DefaultStart();
  return r;
}

class NodeViewTest : public ::testing::Test {
 protected:
  // What the reconciler does for a wanted container: reads it, reports it.
  void Run(const std::string& name, const std::string& phase, int restarts = 0) {
    view_.ObserveDesired("default." + name, Object(name));
    view_.Report(ReportOf(name, phase, restarts));
  }

  std::vector<ViewChange> Changes(uint64_t after) {
    absl::StatusOr<std::vector<ViewChange>> c = view_.ChangesAfter(after, absl::ZeroDuration());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::vector<ViewChange>{};
  }

  controller::FakeClock clock_;
  NodeView view_{clock_, NodeViewOptions{/*history=*/5, /*events_kept=*/4,
                                         /*events_per_container=*/2}};
};

TEST_F(NodeViewTest, ListsReportedContainersWithTheirDesiredObject) {
  view_.ObserveDesired("default.web", Object("web"));
  EXPECT_TRUE(view_.List().items.empty()) << "listed before the reconciler reported it";
  view_.Report(ReportOf("web", "Running"));
  ViewSnapshot s = view_.List();
  ASSERT_EQ(s.items.size(), 1u);
  const v1::Container& c = *s.items[0];
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.namespace_(), "default");
  EXPECT_EQ(c.id(), "default.web");
  EXPECT_EQ(c.labels().at("app"), "web");
  EXPECT_EQ(c.source().kind(), "file");
  EXPECT_EQ(c.source().file(), "/etc/berth/manifests/web.yaml");
  EXPECT_EQ(c.source().line(), 3);
  EXPECT_EQ(c.spec_yaml(), "image: busybox\n");
  EXPECT_EQ(c.image(), "busybox");
  EXPECT_EQ(c.status().phase(), "Running");
  EXPECT_EQ(c.created_at().seconds(), absl::ToUnixSeconds(controller::FakeClock::DefaultStart()));
  EXPECT_EQ(s.revision, 1u);
}

TEST_F(NodeViewTest, ApiObjectsShowUidAndResourceVersion) {
  NodeContainer o = Object("web");
  o.source = "api";
  o.origin = "api";
  o.metadata.uid = "u-1";
  o.metadata.resource_version = "42";
  v1::Source s = SourceOf(o);
  EXPECT_EQ(s.kind(), "api");
  EXPECT_EQ(s.uid(), "u-1");
  EXPECT_EQ(s.resource_version(), "42");
}

TEST_F(NodeViewTest, EveryChangeTakesARevisionAndSameReportsDoNot) {
  Run("web", "Pending");
  Run("web", "Pending");  // the same again: no change
  EXPECT_EQ(view_.revision(), 1u);
  Run("web", "Running");
  Run("db", "Running");
  EXPECT_EQ(view_.revision(), 3u);
  std::vector<ViewChange> c = Changes(0);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].type, Type::ADDED);
  EXPECT_EQ(c[0].before, nullptr);
  EXPECT_EQ(c[1].type, Type::MODIFIED);
  EXPECT_EQ(c[1].before->status().phase(), "Pending");
  EXPECT_EQ(c[1].after->status().phase(), "Running");
  EXPECT_EQ(c[2].after->name(), "db");
  EXPECT_EQ(Changes(2).size(), 1u);
  EXPECT_TRUE(Changes(3).empty());
}

TEST_F(NodeViewTest, AContainerNoLongerWantedIsRemovingUntilRemoved) {
  Run("web", "Running");
  view_.ObserveDesired("default.web", std::nullopt);
  ViewSnapshot s = view_.List();
  ASSERT_EQ(s.items.size(), 1u);
  EXPECT_EQ(s.items[0]->status().phase(), "Removing");
  EXPECT_EQ(s.items[0]->labels().at("app"), "web") << "labels as last seen";
  EXPECT_EQ(s.items[0]->spec_yaml(), "");
  view_.Remove("default.web");
  EXPECT_TRUE(view_.List().items.empty());
  std::vector<ViewChange> c = Changes(1);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].type, Type::MODIFIED);
  EXPECT_EQ(c[1].type, Type::DELETED);
  EXPECT_EQ(c[1].after, nullptr);
  EXPECT_EQ(c[1].before->status().phase(), "Removing");
  EXPECT_EQ(view_.Get("default", "web").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NodeViewTest, ASeededContainerShowsUntilTheReconcilerSaysOtherwise) {
  runtime::ContainerStatus c;
  c.id = "default.old";
  c.state = runtime::ContainerState::kRunning;
  c.pid = 42;
  c.annotations = {{"berth.dev/namespace", "default"},
                   {"berth.dev/name", "old"},
                   {"berth.dev/image", "busybox"},
                   {"berth.dev/restart-count", "2"}};
  view_.Report(ReportOfRuntime(c));
  ViewSnapshot s = view_.List();
  ASSERT_EQ(s.items.size(), 1u);
  EXPECT_EQ(s.items[0]->name(), "old");
  EXPECT_EQ(s.items[0]->status().phase(), "Running");
  EXPECT_EQ(s.items[0]->status().pid(), 42);
  EXPECT_EQ(s.items[0]->status().restart_count(), 2);
  // The reconciler finds no object for it: Removing, then gone.
  view_.ObserveDesired("default.old", std::nullopt);
  EXPECT_EQ(view_.List().items[0]->status().phase(), "Removing");
  view_.Remove("default.old");
  EXPECT_TRUE(view_.List().items.empty());
}

TEST_F(NodeViewTest, AnObjectBeingDeletedIsRemovingToo) {
  Run("web", "Running");
  NodeContainer o = Object("web");
  o.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  view_.ObserveDesired("default.web", o);
  EXPECT_EQ(view_.List().items[0]->status().phase(), "Removing");
}

TEST_F(NodeViewTest, ALabelChangeIsAModification) {
  Run("web", "Running");
  NodeContainer o = Object("web");
  o.metadata.labels["tier"] = "front";
  view_.ObserveDesired("default.web", o);
  std::vector<ViewChange> c = Changes(1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].after->labels().at("tier"), "front");
}

// The view keeps what it shows of an object, not the object: the same
// object again changes nothing, and so does a change of what it does not
// show (an annotation); a change of anything shown is one change.
TEST_F(NodeViewTest, AnObjectIsAChangeExactlyWhenWhatItShowsChanges) {
  Run("web", "Running");
  const uint64_t start = view_.revision();
  NodeContainer o = Object("web");
  view_.ObserveDesired("default.web", o);
  o.metadata.annotations["note"] = "not shown";
  view_.ObserveDesired("default.web", o);
  EXPECT_EQ(view_.revision(), start);

  o.source = "/etc/berth/manifests/web.yaml:7";  // moved down the file
  view_.ObserveDesired("default.web", o);
  std::vector<ViewChange> c = Changes(start);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].after->source().line(), 7);

  o.spec.liveness_probe.emplace();  // a field the spec hash leaves out
  o.spec.liveness_probe->handler.exec = controller::ExecAction{{"true"}};
  view_.ObserveDesired("default.web", o);
  c = Changes(start + 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_THAT(c[0].after->spec_yaml(), HasSubstr("livenessProbe"));

  controller::ContainerPort port;
  port.container_port = 80;
  port.host_port = 8080;
  o.spec.ports.push_back(port);
  view_.ObserveDesired("default.web", o);
  c = Changes(start + 2);
  ASSERT_EQ(c.size(), 1u);
  ASSERT_EQ(c[0].after->ports_size(), 1);
  EXPECT_EQ(c[0].after->ports(0).host_port(), 8080);
  view_.ObserveDesired("default.web", o);
  EXPECT_EQ(view_.revision(), start + 3);
}

TEST_F(NodeViewTest, HistoryIsBoundedAndOlderRevisionsAreOutOfRange) {
  for (int i = 0; i < 8; ++i) Run("web", "Running", i);  // revisions 1..8
  EXPECT_EQ(view_.revision(), 8u);
  // Kept: 4..8 (5 changes): after 3 is complete, after 2 is not.
  EXPECT_EQ(Changes(3).size(), 5u);
  absl::StatusOr<std::vector<ViewChange>> old = view_.ChangesAfter(2, absl::ZeroDuration());
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(old.status().message(), HasSubstr("too old resource version"));
  EXPECT_EQ(view_.ChangesAfter(9, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
  // At most `max` per call.
  absl::StatusOr<std::vector<ViewChange>> two = view_.ChangesAfter(3, absl::ZeroDuration(), 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].revision, 4u);
}

TEST_F(NodeViewTest, AWaitingReaderWakesForAChange) {
  Run("web", "Running");
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    Run("web", "CrashLoopBackOff", 1);
  });
  absl::StatusOr<std::vector<ViewChange>> c = view_.ChangesAfter(1, absl::Seconds(10));
  writer.join();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].after->status().restart_count(), 1);
  // Nothing new: returns empty after the timeout.
  c = view_.ChangesAfter(2, absl::Milliseconds(10));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->empty());
}

TEST(NodeViewConcurrencyTest, ReadersSeeEveryRevisionOnceAndInOrder) {
  controller::FakeClock clock;
  NodeView view(clock, NodeViewOptions{/*history=*/100000});
  constexpr int kWriters = 4;
  constexpr int kReports = 500;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&view, w] {
      const std::string name = absl::StrCat("c", w);
      view.ObserveDesired("default." + name, Object(name));
      for (int i = 0; i < kReports; ++i) view.Report(ReportOf(name, "Running", i));
    });
  }
  // A reader follows along while the writers write.
  uint64_t seen = 0;
  std::map<std::string, int> last_restarts;
  const uint64_t total = kWriters * kReports;
  for (int polls = 0; seen < total && polls < 100000; ++polls) {
    absl::StatusOr<std::vector<ViewChange>> c = view.ChangesAfter(seen, absl::Milliseconds(100));
    ASSERT_TRUE(c.ok()) << c.status();
    for (const ViewChange& change : *c) {
      ASSERT_EQ(change.revision, seen + 1);
      seen = change.revision;
      const int restarts = change.after->status().restart_count();
      auto [it, added] = last_restarts.emplace(change.after->name(), restarts);
      if (!added) {
        EXPECT_EQ(restarts, it->second + 1) << "a report of " << it->first << " lost";
        it->second = restarts;
      }
    }
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(seen, total);
  EXPECT_EQ(view.List().items.size(), static_cast<size_t>(kWriters));
}

TEST_F(NodeViewTest, GetCarriesTheContainersLatestEvents) {
  Run("web", "Running");
  Run("db", "Running");
  const NodeContainer web = Object("web");
  view_.Record(web, controller::EventType::kNormal, "Created", "one");
  clock_.Advance(absl::Seconds(1));
  view_.Record(web, controller::EventType::kNormal, "Started", "two");
  view_.Record(Object("db"), controller::EventType::kWarning, "BackOff", "db's");
  view_.Record(web, controller::EventType::kWarning, "BackOff", "three");
  absl::StatusOr<v1::Container> c = view_.Get("", "web");
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<std::string> reasons;
  for (const v1::Event& e : c->events()) reasons.push_back(e.reason());
  EXPECT_THAT(reasons, ElementsAre("Started", "BackOff"));  // the last 2, oldest first
  EXPECT_EQ(c->events(1).type(), "Warning");
  EXPECT_EQ(c->events(1).message(), "three");
  EXPECT_EQ(c->events(0).time().seconds(),
            absl::ToUnixSeconds(controller::FakeClock::DefaultStart()) + 1);
  // Events do not make revisions.
  EXPECT_EQ(view_.revision(), 2u);
  // List does not carry events.
  EXPECT_EQ(view_.List().items[0]->events_size(), 0);
  absl::Status missing = view_.Get("default", "nope").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "nodecontainers \"nope\" not found");
}

TEST_F(NodeViewTest, EventsAreKeptBoundedWithSequenceNumbers) {
  Run("web", "Running");
  for (int i = 0; i < 6; ++i) {
    view_.Record(Object("web"), controller::EventType::kNormal, "Started", std::to_string(i));
  }
  uint64_t last = 0;
  std::vector<EventPtr> all = view_.Events("", &last);
  EXPECT_EQ(last, 6u);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]->revision(), 3u);
  EXPECT_EQ(view_.Events("default.web", nullptr).size(), 2u);
  absl::StatusOr<std::vector<EventPtr>> after = view_.EventsAfter(4, absl::ZeroDuration());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 2u);
  EXPECT_EQ(view_.EventsAfter(1, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(NodeViewTest, ASpecChangeStartsTheAgeAfresh) {
  Run("web", "Running");
  clock_.Advance(absl::Hours(1));
  view_.ObserveDesired("default.web", Object("web", "busybox:2"));
  ContainerReport r = ReportOf("web", "Running");
  r.created_at = clock_.Now();
  view_.Report(r);
  EXPECT_EQ(view_.List().items[0]->created_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
  // A restart (same spec, a new container) keeps it.
  r.created_at = clock_.Now() + absl::Minutes(5);
  r.restart_count = 1;
  view_.Report(r);
  EXPECT_EQ(view_.List().items[0]->created_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
  // A recreate asked for (the count starts again): a new age.
  r.created_at = clock_.Now() + absl::Minutes(9);
  r.restart_count = 0;
  view_.Report(r);
  EXPECT_EQ(view_.List().items[0]->created_at().seconds(),
            absl::ToUnixSeconds(clock_.Now() + absl::Minutes(9)));
}

}  // namespace
}  // namespace berth::api
