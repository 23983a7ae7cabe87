// What a WorkQueue reports about itself, through a provider injected at
// construction (client-go's workqueue.MetricsProvider; the no-op default
// costs nothing). controller/metrics exports it with client-go's names:
// workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds,
// workqueue_work_duration_seconds, workqueue_retries_total,
// workqueue_unfinished_work_seconds and
// workqueue_longest_running_processor_seconds, each labelled with the
// queue's name.
//
// The queue calls the metric objects with its own lock held: they must be
// cheap, thread-safe and must not call back into the queue. The two values
// of work in progress are not pushed: the provider pulls them when it
// exports (client-go sets them every 500 ms), through the function given to
// NewInProgressMetric, which takes the queue's lock.
#ifndef BERTH_CONTROLLER_QUEUE_QUEUE_METRICS_H_
#define BERTH_CONTROLLER_QUEUE_QUEUE_METRICS_H_

#include <functional>
#include <memory>
#include <string>

namespace berth::controller {

class QueueGauge {
 public:
  virtual ~QueueGauge() = default;
  virtual void Inc() = 0;
  virtual void Dec() = 0;
};

class QueueCounter {
 public:
  virtual ~QueueCounter() = default;
  virtual void Inc() = 0;
};

class QueueHistogram {
 public:
  virtual ~QueueHistogram() = default;
  virtual void Observe(double seconds) = 0;
};

// Work in progress, read at export time.
struct QueueInProgress {
  // Seconds of work done by keys still processing (the sum of their ages):
  // a value that grows while the count of processing keys stays the same
  // means stuck workers.
  double unfinished_work_seconds = 0;
  // The age of the oldest processing key.
  double longest_running_processor_seconds = 0;
};

// Keeps the in-progress function registered; destroyed (unregistering it)
// by the queue before the queue goes.
class QueueMetricRegistration {
 public:
  virtual ~QueueMetricRegistration() = default;
};

class QueueMetricsProvider {
 public:
  virtual ~QueueMetricsProvider() = default;
  // Keys waiting to be handed out: queued, or added again while
  // processing (client-go's depth: the dirty keys).
  virtual std::unique_ptr<QueueGauge> NewDepthMetric(const std::string& name) = 0;
  // Keys that became dirty (an Add that was not merged into a pending one).
  virtual std::unique_ptr<QueueCounter> NewAddsMetric(const std::string& name) = 0;
  // Seconds from the Add that made a key dirty to its Get.
  virtual std::unique_ptr<QueueHistogram> NewLatencyMetric(const std::string& name) = 0;
  // Seconds from Get to Done.
  virtual std::unique_ptr<QueueHistogram> NewWorkDurationMetric(const std::string& name) = 0;
  // AddRateLimited calls.
  virtual std::unique_ptr<QueueCounter> NewRetriesMetric(const std::string& name) = 0;
  // `read` is called at export time (from the exporter's thread) until the
  // registration is destroyed.
  virtual std::unique_ptr<QueueMetricRegistration> NewInProgressMetric(
      const std::string& name, std::function<QueueInProgress()> read) = 0;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_QUEUE_QUEUE_METRICS_H_
