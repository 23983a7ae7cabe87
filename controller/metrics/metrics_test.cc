// The registry, the exposition format, the instrumentation decorators, the
// work queue's metrics and the process collector.
#include "controller/metrics/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "controller/metrics/instrumented.h"
#include "controller/metrics/process_collector.h"
#include "controller/metrics/workqueue_metrics.h"
#include "controller/queue/work_queue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/client_metric.h"
#include "prometheus/text_serializer.h"

namespace berth::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the sample line that starts with `series` ("name{labels}"),
// or -1.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

TEST(MetricsTest, StatusLabels) {
  EXPECT_EQ(StatusLabel(absl::OkStatus()), "ok");
  EXPECT_EQ(StatusLabel(absl::InvalidArgumentError("x")), "invalid_argument");
  EXPECT_EQ(StatusLabel(absl::UnavailableError("x")), "unavailable");
  EXPECT_EQ(StatusLabel(absl::DeadlineExceededError("x")), "deadline_exceeded");
}

TEST(MetricsTest, ExposesHistogramsCountersAndBuildInfo) {
  Metrics m({"1.2.3", "abc123"});
  m.ObserveReconcile(absl::Milliseconds(3), absl::OkStatus());
  m.ObserveReconcile(absl::Seconds(400), absl::UnavailableError("runc"));
  m.ObserveReconcile(absl::Milliseconds(7), absl::UnavailableError("runc"));
  m.ObserveRuntimeOperation(RuntimeOperation::kCreate, absl::Milliseconds(80));
  m.ObserveImagePull(absl::Seconds(2), absl::OkStatus());
  m.ObserveImagePull(absl::Seconds(1), absl::NotFoundError("no such tag"));
  const std::string text = m.Scrape();

  EXPECT_THAT(text, HasSubstr("# HELP berth_reconcile_duration_seconds "));
  EXPECT_THAT(text, HasSubstr("# TYPE berth_reconcile_duration_seconds histogram\n"));
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_bucket{le=\"0.001\"}"), 0);
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_bucket{le=\"0.005\"}"), 1);
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_bucket{le=\"0.01\"}"), 2);
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_bucket{le=\"300\"}"), 2);
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_bucket{le=\"+Inf\"}"), 3);
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_count"), 3);
  EXPECT_NEAR(Sample(text, "berth_reconcile_duration_seconds_sum"), 400.01, 1e-9);
  EXPECT_THAT(text, HasSubstr("# TYPE berth_reconcile_errors_total counter\n"));
  EXPECT_EQ(Sample(text, "berth_reconcile_errors_total{reason=\"unavailable\"}"), 2);
  EXPECT_EQ(
      Sample(text,
             "berth_runtime_operation_duration_seconds_bucket{operation=\"create\",le=\"0.1\"}"),
      1);
  EXPECT_EQ(Sample(text, "berth_runtime_operation_duration_seconds_count{operation=\"stop\"}"), 0);
  EXPECT_EQ(Sample(text, "berth_image_pull_duration_seconds_count"), 2);
  EXPECT_EQ(Sample(text, "berth_image_pulls_total{result=\"success\"}"), 1);
  EXPECT_EQ(Sample(text, "berth_image_pulls_total{result=\"not_found\"}"), 1);
  EXPECT_THAT(text, HasSubstr("# TYPE berth_build_info gauge\nberth_build_info{"));
  EXPECT_THAT(text, HasSubstr("revision=\"abc123\",version=\"1.2.3\"} 1\n"));
}

TEST(MetricsTest, FamiliesWithoutSeriesAreLeftOut) {
  Metrics m;
  const std::string text = m.Scrape();
  EXPECT_THAT(text, Not(HasSubstr("berth_reconcile_errors_total")));
  EXPECT_THAT(text, Not(HasSubstr("berth_image_pulls_total")));
  EXPECT_THAT(text, HasSubstr("berth_reconcile_duration_seconds_count 0"));
}

// A collector whose label value needs escaping.
class Escapes : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily f;
    f.name = "berth_manifest_errors";
    f.help = "Errors";
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric c;
    c.label = {{"file", "/etc/a \"b\"\\c\nd.yaml"}};
    c.gauge.value = 2;
    f.metric.push_back(c);
    return {f};
  }
};

TEST(MetricsTest, CollectorsAreAskedAtScrapeAndLabelValuesEscaped) {
  Metrics m;
  Escapes e;
  m.AddCollector(&e);
  EXPECT_THAT(m.Scrape(),
              HasSubstr("berth_manifest_errors{file=\"/etc/a \\\"b\\\"\\\\c\\nd.yaml\"} 2\n"));
  m.RemoveCollector(&e);
  EXPECT_THAT(m.Scrape(), Not(HasSubstr("berth_manifest_errors")));
}

// Every kind of family and value, for the text writer to match.
class EveryKind : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out(4);
    out[0].name = "every_gauge";
    out[0].help = "Gauges.";
    out[0].type = MetricType::Gauge;
    for (double v :
         {1.5, 0.1 + 0.2, 1764770000.123, 7340032.0, 1e21, -2.0, 0.0,
          std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity()}) {
      prometheus::ClientMetric m;
      m.label = {{"a", "x"}, {"b", "y\"z\\"}};
      m.gauge.value = v;
      out[0].metric.push_back(m);
    }
    out[0].metric.back().timestamp_ms = 1764770000123;
    out[1].name = "every_summary";
    out[1].type = MetricType::Summary;  // no help
    prometheus::ClientMetric s;
    s.summary.sample_count = 3;
    s.summary.sample_sum = 0.75;
    s.summary.quantile = {{0.5, 0.25}, {0.99, 0.5}};
    out[1].metric.push_back(s);
    out[2].name = "every_untyped";
    out[2].help = "Untyped.";
    out[2].type = MetricType::Untyped;
    prometheus::ClientMetric u;
    u.untyped.value = 42;
    out[2].metric.push_back(u);
    out[3].name = "every_histogram";
    out[3].help = "Ends at +Inf.";
    out[3].type = MetricType::Histogram;
    prometheus::ClientMetric h;
    h.label = {{"le_not", "1"}};
    h.histogram.sample_count = 2;
    h.histogram.sample_sum = 1.25;
    h.histogram.bucket = {{1, 0.005}, {2, std::numeric_limits<double>::infinity()}};
    out[3].metric.push_back(h);
    return out;
  }
};

// Scrape writes the text as prometheus-cpp's TextSerializer does.
TEST(MetricsTest, ScrapeWritesWhatPrometheusCppWrites) {
  Metrics m;
  m.ObserveReconcile(absl::Milliseconds(3), absl::OkStatus());
  m.ObserveReconcile(absl::Milliseconds(7), absl::UnavailableError("runc"));
  m.ObserveRuntimeOperation(RuntimeOperation::kStart, absl::Milliseconds(80));
  m.ObserveImagePull(absl::Seconds(2), absl::OkStatus());
  EveryKind every;
  m.AddCollector(&every);
  const std::string text = m.Scrape();
  std::vector<prometheus::MetricFamily> families = m.registry().Collect();
  for (prometheus::MetricFamily& f : every.Collect()) families.push_back(std::move(f));
  families.erase(std::remove_if(families.begin(), families.end(),
                                [](const prometheus::MetricFamily& f) { return f.metric.empty(); }),
                 families.end());
  std::ostringstream want;
  prometheus::TextSerializer().Serialize(want, families);
  EXPECT_EQ(text, want.str());
  EXPECT_THAT(text, HasSubstr("every_gauge{a=\"x\",b=\"y\\\"z\\\\\"} 0.3\n"));
  EXPECT_THAT(text, HasSubstr("every_gauge{a=\"x\",b=\"y\\\"z\\\\\"} -Inf 1764770000123\n"));
  m.RemoveCollector(&every);
}

TEST(WorkQueueMetricsTest, ClientGoNamesFromARealQueue) {
  Metrics m;
  WorkQueueMetrics provider(m);
  controller::FakeClock clock;
  controller::WorkQueue::Options o;
  o.metrics = &provider;
  o.name = "containers";
  controller::WorkQueue q(clock, o);
  q.Add("a");
  q.Add("b");
  clock.Advance(absl::Milliseconds(50));
  ASSERT_EQ(q.Get(), "a");
  clock.Advance(absl::Seconds(2));
  q.AddRateLimited("a");
  std::string text = m.Scrape();
  EXPECT_EQ(Sample(text, "workqueue_depth{name=\"containers\"}"), 1);
  EXPECT_EQ(Sample(text, "workqueue_adds_total{name=\"containers\"}"), 2);
  EXPECT_EQ(Sample(text, "workqueue_retries_total{name=\"containers\"}"), 1);
  EXPECT_EQ(Sample(text, "workqueue_queue_duration_seconds_bucket{name=\"containers\",le=\"0.1\"}"),
            1);
  EXPECT_EQ(Sample(text, "workqueue_unfinished_work_seconds{name=\"containers\"}"), 2);
  EXPECT_EQ(Sample(text, "workqueue_longest_running_processor_seconds{name=\"containers\"}"), 2);
  q.Done("a");
  text = m.Scrape();
  EXPECT_EQ(Sample(text, "workqueue_work_duration_seconds_count{name=\"containers\"}"), 1);
  EXPECT_EQ(Sample(text, "workqueue_work_duration_seconds_bucket{name=\"containers\",le=\"10\"}"),
            1);
  EXPECT_EQ(Sample(text, "workqueue_longest_running_processor_seconds{name=\"containers\"}"), 0);
}

TEST(WorkQueueMetricsTest, AGoneQueueIsNoLongerAsked) {
  Metrics m;
  WorkQueueMetrics provider(m);
  controller::FakeClock clock;
  {
    controller::WorkQueue q(clock, {absl::Milliseconds(5), absl::Minutes(5), &provider, "x"});
    EXPECT_THAT(m.Scrape(), HasSubstr("workqueue_unfinished_work_seconds{name=\"x\"}"));
  }
  EXPECT_THAT(m.Scrape(), Not(HasSubstr("workqueue_unfinished_work_seconds")));
}

class FakeRuntime : public runtime::Runtime {
 public:
  absl::Status Create(const runtime::ContainerSpec&) override {
    usleep(20000);
    return absl::InternalError("create failed");
  }
  absl::Status Start(const std::string&) override { return absl::OkStatus(); }
  absl::Status Stop(const std::string&, absl::Duration) override { return absl::OkStatus(); }
  absl::Status Delete(const std::string&) override { return absl::OkStatus(); }
  absl::StatusOr<runtime::ContainerStatus> State(const std::string& id) override {
    return absl::NotFoundError(id);
  }
  absl::StatusOr<std::vector<runtime::ContainerStatus>> List() override {
    return std::vector<runtime::ContainerStatus>(2);
  }
};

TEST(InstrumentedTest, RuntimeOperationsAreTimedAndPassedOn) {
  Metrics m;
  FakeRuntime inner;
  InstrumentedRuntime rt(inner, m);
  EXPECT_EQ(rt.Create({}).message(), "create failed");
  EXPECT_TRUE(rt.Start("a").ok());
  EXPECT_TRUE(rt.Delete("a").ok());
  EXPECT_TRUE(absl::IsNotFound(rt.State("a").status()));
  EXPECT_EQ(rt.List()->size(), 2u);
  const std::string text = m.Scrape();
  EXPECT_EQ(Sample(text, "berth_runtime_operation_duration_seconds_count{operation=\"create\"}"),
            1);
  EXPECT_GE(Sample(text, "berth_runtime_operation_duration_seconds_sum{operation=\"create\"}"),
            0.02);
  EXPECT_EQ(
      Sample(text,
             "berth_runtime_operation_duration_seconds_bucket{operation=\"create\",le=\"0.01\"}"),
      0);
  EXPECT_EQ(Sample(text, "berth_runtime_operation_duration_seconds_count{operation=\"start\"}"), 1);
  EXPECT_EQ(Sample(text, "berth_runtime_operation_duration_seconds_count{operation=\"delete\"}"),
            1);
  EXPECT_EQ(Sample(text, "berth_runtime_operation_duration_seconds_count{operation=\"stop\"}"), 0);
}

class FakeImages : public image::ImageStore {
 public:
  absl::StatusOr<image::ResolvedImage> Resolve(const std::string& ref, image::ImagePullPolicy,
                                               const image::PullAuth&) const override {
    if (ref == "missing") return absl::NotFoundError("manifest unknown");
    image::ResolvedImage r;
    r.pulled = ref == "remote";
    return r;
  }
  bool Present(const std::string& ref) const override { return ref == "local"; }
};

TEST(InstrumentedTest, OnlyPullsAreCounted) {
  Metrics m;
  FakeImages inner;
  InstrumentedImageStore images(inner, m);
  EXPECT_TRUE(images.Resolve("local", image::ImagePullPolicy::kIfNotPresent, {}).ok());
  EXPECT_TRUE(images.Resolve("remote", image::ImagePullPolicy::kIfNotPresent, {})->pulled);
  EXPECT_FALSE(images.Resolve("missing", image::ImagePullPolicy::kIfNotPresent, {}).ok());
  // kNever: not found without a pull.
  EXPECT_FALSE(images.Resolve("missing", image::ImagePullPolicy::kNever, {}).ok());
  const std::string text = m.Scrape();
  EXPECT_EQ(Sample(text, "berth_image_pulls_total{result=\"success\"}"), 1);
  EXPECT_EQ(Sample(text, "berth_image_pulls_total{result=\"not_found\"}"), 1);
  EXPECT_EQ(Sample(text, "berth_image_pull_duration_seconds_count"), 2);
}

TEST(InstrumentedTest, ReconcilesAreTimedAndErrorsCountedByReason) {
  Metrics m;
  controller::ReconcileFunc f = InstrumentReconcile(
      [](const std::string& id) -> controller::ReconcileResult {
        if (id == "bad") return {absl::InvalidArgumentError("bad spec")};
        return {absl::OkStatus(), absl::Seconds(3)};
      },
      m);
  EXPECT_EQ(f("good").requeue_after, absl::Seconds(3));
  EXPECT_TRUE(absl::IsInvalidArgument(f("bad").status));
  const std::string text = m.Scrape();
  EXPECT_EQ(Sample(text, "berth_reconcile_duration_seconds_count"), 2);
  EXPECT_EQ(Sample(text, "berth_reconcile_errors_total{reason=\"invalid_argument\"}"), 1);
}

TEST(ProcessCollectorTest, ThisProcess) {
  Metrics m;
  ProcessCollector p;
  m.AddCollector(&p);
  std::vector<int> fds;  // three more open descriptors than before
  const double before = Sample(m.Scrape(), "process_open_fds");
  for (int i = 0; i < 3; ++i) fds.push_back(dup(0));
  const std::string text = m.Scrape();
  for (int fd : fds) close(fd);
  EXPECT_EQ(Sample(text, "process_open_fds"), before + 3);
  EXPECT_GT(Sample(text, "process_max_fds"), 0);
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Sample(text, "process_virtual_memory_bytes"), 1 << 20);
  EXPECT_GE(Sample(text, "process_cpu_seconds_total"), 0);
  const double start = Sample(text, "process_start_time_seconds");
  const double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);  // a test binary started within the hour
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  m.RemoveCollector(&p);
}

}  // namespace
}  // namespace berth::metrics
