#include "controller/berthd/observability.h"

#include <utility>
#include <vector>

#include "controller/api/version.h"
#include "prometheus/client_metric.h"
#include "prometheus/counter.h"
#include "prometheus/metric_family.h"
#include "spdlog/spdlog.h"

namespace berth::berthd {

// berth_manifest_errors{file}: the errors of each failing entry of the
// manifests directory, at scrape time.
class Observability::ManifestErrors : public prometheus::Collectable {
 public:
  explicit ManifestErrors(const controller::ManifestSource& source) : source_(source) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily f;
    f.name = "berth_manifest_errors";
    f.help =
        "Errors of each file of the manifests directory that fails to read or parse "
        "(its last good objects stay in effect)";
    f.type = prometheus::MetricType::Gauge;
    const controller::SourceSnapshot problems = source_.Problems();
    for (const auto& [file, n] : problems.errors_per_file) {
      prometheus::ClientMetric m;
      m.label = {{"file", file}};
      m.gauge.value = n;
      f.metric.push_back(std::move(m));
    }
    if (problems.directory_unreadable) {
      prometheus::ClientMetric m;
      m.label = {{"file", source_.dir()}};
      m.gauge.value = 1;
      f.metric.push_back(std::move(m));
    }
    return {std::move(f)};
  }

 private:
  const controller::ManifestSource& source_;
};

Observability::Observability() : metrics_({api::kBerthVersion, api::kBerthGitCommit}) {
  probe_results_ = &prometheus::BuildCounter()
                        .Name("prober_probe_total")
                        .Help(
                            "Cumulative number of a liveness, readiness or startup probe "
                            "for a container by result")
                        .Register(metrics_.registry());
}

void Observability::ProbeResult(const std::string& probe_type, bool success) {
  probe_results_->Add({{"probe_type", probe_type}, {"result", success ? "successful" : "failed"}})
      .Increment();
}

absl::StatusOr<std::unique_ptr<Observability>> Observability::Start(const Config& config) {
  std::unique_ptr<Observability> o(new Observability());
  o->queue_ = std::make_unique<metrics::WorkQueueMetrics>(o->metrics_);
  Observability* self = o.get();
  o->containers_ = std::make_unique<metrics::ContainerMetrics>(
      [self](const std::string& id) { return self->runc_->CgroupPathFor(id); });
  o->metrics_.AddCollector(o->containers_.get());
  o->metrics_.AddCollector(&o->process_);
  o->readiness_.NotReady("recovering the node's containers");
  if (config.metrics_addr.empty()) return o;
  metrics::HttpServer::Handlers handlers;
  handlers.metrics = [self] { return self->metrics_.Scrape(); };
  handlers.health = [self] { return self->health_.Run(); };
  handlers.ready = [self] { return self->readiness_.Check(); };
  absl::StatusOr<std::unique_ptr<metrics::HttpServer>> server =
      metrics::HttpServer::Start(config.metrics_addr, std::move(handlers));
  if (!server.ok()) return server.status();
  o->server_ = *std::move(server);
  spdlog::info("metrics and health on http://{} (/metrics, /healthz, /readyz)",
               o->server_->address());
  return o;
}

Observability::~Observability() {
  StopServing();
  metrics_.RemoveCollector(containers_.get());
  metrics_.RemoveCollector(&process_);
}

runtime::Runtime& Observability::Instrument(runtime::RuncRuntime& runtime) {
  runc_ = &runtime;
  runtime_ = std::make_unique<metrics::InstrumentedRuntime>(runtime, metrics_);
  return *runtime_;
}

const image::ImageStore& Observability::Instrument(const image::ImageStore& images) {
  images_ = std::make_unique<metrics::InstrumentedImageStore>(images, metrics_);
  return *images_;
}

controller::ReconcileFunc Observability::Instrument(controller::ReconcileFunc reconcile) {
  return metrics::InstrumentReconcile(std::move(reconcile), metrics_);
}

void Observability::Serving(const controller::Controller& controller,
                            const controller::ManifestSource* manifests, kube::Cluster* cluster,
                            absl::Duration relist_period) {
  const controller::Controller* c = &controller;
  health_.Add("relist", [c, relist_period] {
    return metrics::CheckRelist(c->LastRelist(), controller::SteadyClock().Now(), relist_period);
  });
  health_.Add("workers", [c] {
    return metrics::CheckWorkers(c->InProgress().longest_running_processor_seconds);
  });
  if (manifests != nullptr) {
    manifest_errors_ = std::make_unique<ManifestErrors>(*manifests);
    metrics_.AddCollector(manifest_errors_.get());
  }
  if (cluster == nullptr) {
    readiness_.ReadyWhen(nullptr);
    return;
  }
  readiness_.ReadyWhen([cluster] {
    if (!cluster->source().HasSynced()) {
      return absl::UnavailableError("the API's NodeContainers and this Node are not listed yet");
    }
    return absl::OkStatus();
  });
}

void Observability::StopServing() {
  server_.reset();
  containers_->StopRefreshing();
  if (manifest_errors_) {
    metrics_.RemoveCollector(manifest_errors_.get());
    manifest_errors_.reset();
  }
}

}  // namespace berth::berthd
