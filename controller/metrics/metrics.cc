#include "controller/metrics/metrics.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "prometheus/gauge.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace berth::metrics {

std::string StatusLabel(const absl::Status& status) {
  std::string s = absl::StatusCodeToString(status.code());
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

namespace {

constexpr char kCompiler[] =
#if defined(__clang__)
    "clang " __clang_version__;
#elif defined(__GNUC__)
    "gcc " __VERSION__;
#else
    "unknown";
#endif

}  // namespace

Metrics::Metrics(const BuildInfo& build) : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  reconcile_duration_ = &prometheus::BuildHistogram()
                             .Name("berth_reconcile_duration_seconds")
                             .Help("Time one reconcile of a container took, in seconds")
                             .Register(r)
                             .Add({}, kReconcileBuckets);
  reconcile_errors_ = &prometheus::BuildCounter()
                           .Name("berth_reconcile_errors_total")
                           .Help("Reconciles that failed, by the error's status code")
                           .Register(r);
  auto& operations =
      prometheus::BuildHistogram()
          .Name("berth_runtime_operation_duration_seconds")
          .Help("Time the runtime took to create, start, stop or delete a container, in seconds")
          .Register(r);
  const char* names[] = {"create", "start", "stop", "delete"};
  for (int i = 0; i < 4; ++i) {
    runtime_operation_[i] = &operations.Add({{"operation", names[i]}}, kRuntimeOperationBuckets);
  }
  image_pull_duration_ = &prometheus::BuildHistogram()
                              .Name("berth_image_pull_duration_seconds")
                              .Help("Time a pull of an image from a registry took, in seconds")
                              .Register(r)
                              .Add({}, kImagePullBuckets);
  image_pulls_ = &prometheus::BuildCounter()
                      .Name("berth_image_pulls_total")
                      .Help("Pulls of images from registries, by result")
                      .Register(r);
  prometheus::BuildGauge()
      .Name("berth_build_info")
      .Help("Always 1; the labels name the build of berthd")
      .Register(r)
      .Add({{"version", build.version}, {"revision", build.revision}, {"compiler", kCompiler}})
      .Set(1);
}

void Metrics::ObserveReconcile(absl::Duration took, const absl::Status& status) {
  reconcile_duration_->Observe(absl::ToDoubleSeconds(took));
  if (!status.ok()) reconcile_errors_->Add({{"reason", StatusLabel(status)}}).Increment();
}

void Metrics::ObserveRuntimeOperation(RuntimeOperation op, absl::Duration took) {
  runtime_operation_[static_cast<int>(op)]->Observe(absl::ToDoubleSeconds(took));
}

void Metrics::ObserveImagePull(absl::Duration took, const absl::Status& status) {
  image_pull_duration_->Observe(absl::ToDoubleSeconds(took));
  image_pulls_->Add({{"result", status.ok() ? "success" : StatusLabel(status)}}).Increment();
}

void Metrics::AddCollector(const prometheus::Collectable* collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(collector);
}

void Metrics::RemoveCollector(const prometheus::Collectable* collector) {
  absl::MutexLock lock(&mu_);
  collectors_.erase(std::remove(collectors_.begin(), collectors_.end(), collector),
                    collectors_.end());
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    absl::MutexLock lock(&mu_);
    for (const prometheus::Collectable* c : collectors_) {
      std::vector<prometheus::MetricFamily> more = c->Collect();
      std::move(more.begin(), more.end(), std::back_inserter(families));
    }
  }
  // A family with no series (no errors yet) says nothing.
  families.erase(std::remove_if(families.begin(), families.end(),
                                [](const prometheus::MetricFamily& f) { return f.metric.empty(); }),
                 families.end());
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace berth::metrics
