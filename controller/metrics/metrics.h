// berthd's metrics: one registry (prometheus-cpp's, from Debian's
// prometheus-cpp-dev) holding the counters and histograms the controller
// updates as it works, plus collectors asked at scrape time for what is
// cheaper to read then (per-container cgroup stats, the process, work in
// progress, manifest errors). Scrape renders it all in the Prometheus text
// format 0.0.4.
//
// Names follow our field: client-go's workqueue_* (WorkQueueMetrics),
// cAdvisor's container_* (ContainerMetrics), the Prometheus clients'
// process_* (ProcessCollector) and berth_* for Berth's own; the README's
// "Metrics and health" lists every one.
//
// Histogram buckets are chosen for what each one measures:
//  * kReconcileBuckets (berth_reconcile_duration_seconds): 1 ms .. 5 min. A
//    reconcile that changes nothing takes well under a millisecond to a few
//    (a runc-free state read), a create and start 50-200 ms, a stop waits up
//    to the grace period (30 s by default) and one that pulls an image as
//    long as the pull.
//  * kRuntimeOperationBuckets (berth_runtime_operation_duration_seconds):
//    5 ms .. 2 min. runc start and delete take 20-120 ms here, create
//    50-300 ms (rootfs mount, monitor, runc create); stop is bounded by the
//    grace period plus the kill.
//  * kImagePullBuckets (berth_image_pull_duration_seconds): 100 ms .. 15 min:
//    a pull that finds every blob present costs a manifest round trip; a
//    large image over a slow link, minutes.
//  * workqueue_*_duration_seconds: client-go's own (1e-8 .. 10 s, x10), so
//    that dashboards built for Kubernetes controllers read them alike.
//
// Thread-safe: the instrumentation may be called from any thread while a
// scrape runs.
#ifndef BERTH_CONTROLLER_METRICS_METRICS_H_
#define BERTH_CONTROLLER_METRICS_METRICS_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace berth::metrics {

inline const std::vector<double> kReconcileBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
inline const std::vector<double> kRuntimeOperationBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
inline const std::vector<double> kImagePullBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,  10,
                                                      30,  60,   120, 300, 600, 900};

// The four operations of runtime::Runtime that change a container.
enum class RuntimeOperation { kCreate, kStart, kStop, kDelete };

// A status code as a label value: "ok", "cancelled", "unknown",
// "invalid_argument", ... (absl's names in snake case).
std::string StatusLabel(const absl::Status& status);

// What berth_build_info says (and its compiler label: this build's).
struct BuildInfo {
  std::string version;   // the release, e.g. "0.2.0"
  std::string revision;  // the commit it was built from
};

class Metrics {
 public:
  explicit Metrics(const BuildInfo& build = {});
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The registry the fixed families live in (for the parts of this library
  // that add their own, e.g. WorkQueueMetrics).
  prometheus::Registry& registry() { return *registry_; }

  // One reconcile: its duration, and its error (reason = StatusLabel) when
  // it failed.
  void ObserveReconcile(absl::Duration took, const absl::Status& status);
  void ObserveRuntimeOperation(RuntimeOperation op, absl::Duration took);
  // One pull from a registry (a Resolve that did not pull is not one):
  // result "success", else the StatusLabel of its error.
  void ObserveImagePull(absl::Duration took, const absl::Status& status);

  // Collectors asked at each Scrape, after the registry, in the order they
  // were added. `collector` must stay valid until removed.
  void AddCollector(const prometheus::Collectable* collector) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for a scrape that is asking it.
  void RemoveCollector(const prometheus::Collectable* collector) ABSL_LOCKS_EXCLUDED(mu_);

  // Everything, in the Prometheus text format (version 0.0.4).
  std::string Scrape() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* reconcile_duration_;
  prometheus::Family<prometheus::Counter>* reconcile_errors_;
  prometheus::Histogram* runtime_operation_[4];
  prometheus::Histogram* image_pull_duration_;
  prometheus::Family<prometheus::Counter>* image_pulls_;

  mutable absl::Mutex mu_;
  std::vector<const prometheus::Collectable*> collectors_ ABSL_GUARDED_BY(mu_);
  // The last scrape's size: the next one's text is reserved at once.
  mutable std::atomic<size_t> last_size_{0};
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_METRICS_H_
