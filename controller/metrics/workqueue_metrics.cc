#include "controller/metrics/workqueue_metrics.h"

#include <utility>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"

namespace berth::metrics {
namespace {

class Gauge : public controller::QueueGauge {
 public:
  explicit Gauge(prometheus::Gauge& g) : g_(g) {}
  void Inc() override { g_.Increment(); }
  void Dec() override { g_.Decrement(); }

 private:
  prometheus::Gauge& g_;
};

class Counter : public controller::QueueCounter {
 public:
  explicit Counter(prometheus::Counter& c) : c_(c) {}
  void Inc() override { c_.Increment(); }

 private:
  prometheus::Counter& c_;
};

class Histogram : public controller::QueueHistogram {
 public:
  explicit Histogram(prometheus::Histogram& h) : h_(h) {}
  void Observe(double seconds) override { h_.Observe(seconds); }

 private:
  prometheus::Histogram& h_;
};

prometheus::MetricFamily GaugeFamily(const char* name, const char* help) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Gauge;
  return f;
}

}  // namespace

class WorkQueueMetrics::Registration : public controller::QueueMetricRegistration {
 public:
  Registration(WorkQueueMetrics* owner, std::string name) : owner_(owner), name_(std::move(name)) {}
  ~Registration() override {
    absl::MutexLock lock(&owner_->mu_);
    owner_->in_progress_.erase(name_);
  }

 private:
  WorkQueueMetrics* owner_;
  std::string name_;
};

WorkQueueMetrics::WorkQueueMetrics(Metrics& metrics)
    : metrics_(metrics),
      depth_(prometheus::BuildGauge()
                 .Name("workqueue_depth")
                 .Help("Current depth of workqueue")
                 .Register(metrics.registry())),
      adds_(prometheus::BuildCounter()
                .Name("workqueue_adds_total")
                .Help("Total number of adds handled by workqueue")
                .Register(metrics.registry())),
      queue_duration_(prometheus::BuildHistogram()
                          .Name("workqueue_queue_duration_seconds")
                          .Help("How long in seconds an item stays in workqueue before being "
                                "requested")
                          .Register(metrics.registry())),
      work_duration_(prometheus::BuildHistogram()
                         .Name("workqueue_work_duration_seconds")
                         .Help("How long in seconds processing an item from workqueue takes")
                         .Register(metrics.registry())),
      retries_(prometheus::BuildCounter()
                   .Name("workqueue_retries_total")
                   .Help("Total number of retries handled by workqueue")
                   .Register(metrics.registry())) {
  metrics_.AddCollector(this);
}

WorkQueueMetrics::~WorkQueueMetrics() { metrics_.RemoveCollector(this); }

std::unique_ptr<controller::QueueGauge> WorkQueueMetrics::NewDepthMetric(const std::string& name) {
  return std::make_unique<Gauge>(depth_.Add({{"name", name}}));
}

std::unique_ptr<controller::QueueCounter> WorkQueueMetrics::NewAddsMetric(const std::string& name) {
  return std::make_unique<Counter>(adds_.Add({{"name", name}}));
}

std::unique_ptr<controller::QueueHistogram> WorkQueueMetrics::NewLatencyMetric(
    const std::string& name) {
  return std::make_unique<Histogram>(queue_duration_.Add({{"name", name}}, kWorkQueueBuckets));
}

std::unique_ptr<controller::QueueHistogram> WorkQueueMetrics::NewWorkDurationMetric(
    const std::string& name) {
  return std::make_unique<Histogram>(work_duration_.Add({{"name", name}}, kWorkQueueBuckets));
}

std::unique_ptr<controller::QueueCounter> WorkQueueMetrics::NewRetriesMetric(
    const std::string& name) {
  return std::make_unique<Counter>(retries_.Add({{"name", name}}));
}

std::unique_ptr<controller::QueueMetricRegistration> WorkQueueMetrics::NewInProgressMetric(
    const std::string& name, std::function<controller::QueueInProgress()> read) {
  absl::MutexLock lock(&mu_);
  in_progress_[name] = std::move(read);
  return std::make_unique<Registration>(this, name);
}

std::vector<prometheus::MetricFamily> WorkQueueMetrics::Collect() const {
  prometheus::MetricFamily unfinished = GaugeFamily(
      "workqueue_unfinished_work_seconds",
      "How many seconds of work has been done that is in progress and hasn't been observed by "
      "work_duration. Large values indicate stuck threads. One can deduce the number of stuck "
      "threads by observing the rate at which this increases.");
  prometheus::MetricFamily longest =
      GaugeFamily("workqueue_longest_running_processor_seconds",
                  "How many seconds has the longest running processor for workqueue been running.");
  absl::MutexLock lock(&mu_);  // held: a registration being destroyed waits
  for (const auto& [name, read] : in_progress_) {
    const controller::QueueInProgress p = read();
    prometheus::ClientMetric m;
    m.label = {{"name", name}};
    m.gauge.value = p.unfinished_work_seconds;
    unfinished.metric.push_back(m);
    m.gauge.value = p.longest_running_processor_seconds;
    longest.metric.push_back(m);
  }
  if (in_progress_.empty()) return {};
  return {std::move(unfinished), std::move(longest)};
}

}  // namespace berth::metrics
