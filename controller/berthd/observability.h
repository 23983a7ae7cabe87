// berthd's metrics and health endpoints (controller/metrics) as one part of
// the Daemon: what the other parts are wrapped in to be measured, and the
// listener of --metrics-addr.
//
// In the Daemon's order:
//  1. Start, right after the state directory's lock: the listener binds
//     (a failure stops berthd: exit 1); /readyz says "recovering the node's
//     containers".
//  2. The runtime, the image store and the reconcile function the
//     reconciler and controller are built with go through Instrument; the
//     status reports also reach status_sink(); the controller's queue gets
//     queue_metrics().
//  3. Serving, once the controller runs and the manifests directory is
//     watched: /healthz checks the controller (health.h), the manifest
//     errors are exported, and /readyz turns ready (in cluster mode once
//     the API's NodeContainers and the Node are listed).
//  4. Stop: /readyz says "shutting down" (NotReady); StopServing, before the
//     parts Serving was given go, closes the listener.
#ifndef BERTH_CONTROLLER_BERTHD_OBSERVABILITY_H_
#define BERTH_CONTROLLER_BERTHD_OBSERVABILITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/berthd/config.h"
#include "controller/controller.h"
#include "controller/kube/cluster.h"
#include "controller/metrics/container_metrics.h"
#include "controller/metrics/health.h"
#include "controller/metrics/http_server.h"
#include "controller/metrics/instrumented.h"
#include "controller/metrics/metrics.h"
#include "controller/metrics/process_collector.h"
#include "controller/metrics/workqueue_metrics.h"
#include "controller/sources/manifest_source.h"
#include "runtime/runc_runtime.h"

namespace berth::berthd {

class Observability {
 public:
  // Binds config.metrics_addr unless it is empty (then nothing listens; the
  // metrics are still kept).
  static absl::StatusOr<std::unique_ptr<Observability>> Start(const Config& config);
  ~Observability();  // StopServing()

  Observability(const Observability&) = delete;
  Observability& operator=(const Observability&) = delete;

  // The runtime and image store the reconciler uses, measured. `runtime`'s
  // cgroup paths are the ones read at each scrape. Each call replaces the
  // last wrapper: call once, and keep the originals alive.
  runtime::Runtime& Instrument(runtime::RuncRuntime& runtime);
  const image::ImageStore& Instrument(const image::ImageStore& images);
  controller::ReconcileFunc Instrument(controller::ReconcileFunc reconcile);
  controller::StatusSink& status_sink() { return *containers_; }
  controller::QueueMetricsProvider* queue_metrics() { return queue_.get(); }
  // prober_probe_total{probe_type, result}: one probe run (kubelet's
  // counter; result "successful" or "failed"). Thread-safe.
  void ProbeResult(const std::string& probe_type, bool success);

  // berthd runs: see the header comment. `manifests` and `cluster` may be
  // null; all must stay valid until StopServing.
  void Serving(const controller::Controller& controller,
               const controller::ManifestSource* manifests, kube::Cluster* cluster,
               absl::Duration relist_period);
  void NotReady(std::string reason) { readiness_.NotReady(std::move(reason)); }
  // Closes the listener, ends the background reads of containers' cgroups
  // and forgets the parts Serving was given. Idempotent.
  void StopServing();

 private:
  class ManifestErrors;
  Observability();

  metrics::Metrics metrics_;
  prometheus::Family<prometheus::Counter>* probe_results_ = nullptr;
  // Set by Instrument(RuncRuntime&): where containers' cgroups are.
  const runtime::RuncRuntime* runc_ = nullptr;
  std::unique_ptr<metrics::WorkQueueMetrics> queue_;
  std::unique_ptr<metrics::ContainerMetrics> containers_;
  metrics::ProcessCollector process_;
  std::unique_ptr<ManifestErrors> manifest_errors_;
  std::unique_ptr<metrics::InstrumentedRuntime> runtime_;
  std::unique_ptr<metrics::InstrumentedImageStore> images_;
  metrics::HealthChecks health_;
  metrics::Readiness readiness_;
  // Last: stopped first.
  std::unique_ptr<metrics::HttpServer> server_;
};

}  // namespace berth::berthd

#endif  // BERTH_CONTROLLER_BERTHD_OBSERVABILITY_H_
