// client-go's workqueue metrics for berthd's WorkQueue, in the Metrics
// registry: workqueue_depth, workqueue_adds_total,
// workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
// workqueue_retries_total (updated by the queue as it works) and
// workqueue_unfinished_work_seconds,
// workqueue_longest_running_processor_seconds (read from the queue at each
// scrape), each with the label `name` (the queue's name).
#ifndef BERTH_CONTROLLER_METRICS_WORKQUEUE_METRICS_H_
#define BERTH_CONTROLLER_METRICS_WORKQUEUE_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/metrics/metrics.h"
#include "controller/queue/queue_metrics.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace berth::metrics {

// client-go's buckets for both durations: 10 ns .. 10 s, by tens.
inline const std::vector<double> kWorkQueueBuckets = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4,
                                                      1e-3, 1e-2, 1e-1, 1,    10};

class WorkQueueMetrics : public controller::QueueMetricsProvider, public prometheus::Collectable {
 public:
  // Registers its families in `metrics` and itself as a collector; both
  // must outlive the queues given this provider.
  explicit WorkQueueMetrics(Metrics& metrics);
  ~WorkQueueMetrics() override;

  std::unique_ptr<controller::QueueGauge> NewDepthMetric(const std::string& name) override;
  std::unique_ptr<controller::QueueCounter> NewAddsMetric(const std::string& name) override;
  std::unique_ptr<controller::QueueHistogram> NewLatencyMetric(const std::string& name) override;
  std::unique_ptr<controller::QueueHistogram> NewWorkDurationMetric(
      const std::string& name) override;
  std::unique_ptr<controller::QueueCounter> NewRetriesMetric(const std::string& name) override;
  std::unique_ptr<controller::QueueMetricRegistration> NewInProgressMetric(
      const std::string& name, std::function<controller::QueueInProgress()> read) override;

  // workqueue_unfinished_work_seconds and
  // workqueue_longest_running_processor_seconds of every registered queue.
  std::vector<prometheus::MetricFamily> Collect() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Registration;

  Metrics& metrics_;
  prometheus::Family<prometheus::Gauge>& depth_;
  prometheus::Family<prometheus::Counter>& adds_;
  prometheus::Family<prometheus::Histogram>& queue_duration_;
  prometheus::Family<prometheus::Histogram>& work_duration_;
  prometheus::Family<prometheus::Counter>& retries_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::function<controller::QueueInProgress()>> in_progress_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_WORKQUEUE_METRICS_H_
