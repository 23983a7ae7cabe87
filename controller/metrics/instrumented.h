// Instrumentation by decoration: the runtime, the image store and the
// reconcile function wrapped so that each call is timed into Metrics, with
// nothing in the wrapped code knowing of it.
#ifndef BERTH_CONTROLLER_METRICS_INSTRUMENTED_H_
#define BERTH_CONTROLLER_METRICS_INSTRUMENTED_H_

#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/metrics/metrics.h"
#include "runtime/image/image_store.h"
#include "runtime/runtime.h"

namespace berth::metrics {

// runtime::Runtime that times Create, Start, Stop and Delete into
// berth_runtime_operation_duration_seconds{operation} (failures included:
// a failed create that rolled back took that long too) and passes every
// call on to `inner` unchanged. `inner` and `metrics` must outlive it.
class InstrumentedRuntime : public runtime::Runtime {
 public:
  InstrumentedRuntime(runtime::Runtime& inner, Metrics& metrics)
      : inner_(inner), metrics_(metrics) {}

  absl::Status Create(const runtime::ContainerSpec& spec) override;
  absl::Status Start(const std::string& id) override;
  absl::Status Stop(const std::string& id, absl::Duration timeout) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<runtime::ContainerStatus> State(const std::string& id) override {
    return inner_.State(id);
  }
  absl::StatusOr<std::vector<runtime::ContainerStatus>> List() override { return inner_.List(); }
  absl::StatusOr<std::vector<std::string>> ListIds() override { return inner_.ListIds(); }
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> Exec(
      const std::string& id, const runtime::ExecOptions& options) override {
    return inner_.Exec(id, options);
  }

 private:
  runtime::Runtime& inner_;
  Metrics& metrics_;
};

// image::ImageStore whose Resolve, when it pulls from a registry (as
// WouldPull says beforehand, or ResolvedImage::pulled after), is timed into
// berth_image_pull_duration_seconds and counted in
// berth_image_pulls_total{result}. Everything else is passed on.
class InstrumentedImageStore : public image::ImageStore {
 public:
  InstrumentedImageStore(const image::ImageStore& inner, Metrics& metrics)
      : inner_(inner), metrics_(metrics) {}

  absl::StatusOr<image::ResolvedImage> Resolve(const std::string& reference,
                                               image::ImagePullPolicy policy,
                                               const image::PullAuth& auth) const override;
  bool Present(const std::string& reference) const override { return inner_.Present(reference); }
  bool WouldPull(const std::string& reference, image::ImagePullPolicy policy) const override {
    return inner_.WouldPull(reference, policy);
  }

 private:
  const image::ImageStore& inner_;
  Metrics& metrics_;
};

// `reconcile`, timed into berth_reconcile_duration_seconds, its errors
// counted in berth_reconcile_errors_total{reason}.
controller::ReconcileFunc InstrumentReconcile(controller::ReconcileFunc reconcile,
                                              Metrics& metrics);

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_INSTRUMENTED_H_
