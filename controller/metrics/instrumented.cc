#include "controller/metrics/instrumented.h"

#include <utility>

#include "absl/time/clock.h"

namespace berth::metrics {
namespace {

// Monotonic: a step of the wall clock must not make a negative duration.
absl::Time MonotonicNow() { return controller::SteadyClock().Now(); }

}  // namespace

absl::Status InstrumentedRuntime::Create(const runtime::ContainerSpec& spec) {
  const absl::Time began = MonotonicNow();
  absl::Status s = inner_.Create(spec);
  metrics_.ObserveRuntimeOperation(RuntimeOperation::kCreate, MonotonicNow() - began);
  return s;
}

absl::Status InstrumentedRuntime::Start(const std::string& id) {
  const absl::Time began = MonotonicNow();
  absl::Status s = inner_.Start(id);
  metrics_.ObserveRuntimeOperation(RuntimeOperation::kStart, MonotonicNow() - began);
  return s;
}

absl::Status InstrumentedRuntime::Stop(const std::string& id, absl::Duration timeout) {
  const absl::Time began = MonotonicNow();
  absl::Status s = inner_.Stop(id, timeout);
  metrics_.ObserveRuntimeOperation(RuntimeOperation::kStop, MonotonicNow() - began);
  return s;
}

absl::Status InstrumentedRuntime::Delete(const std::string& id) {
  const absl::Time began = MonotonicNow();
  absl::Status s = inner_.Delete(id);
  metrics_.ObserveRuntimeOperation(RuntimeOperation::kDelete, MonotonicNow() - began);
  return s;
}

absl::StatusOr<image::ResolvedImage> InstrumentedImageStore::Resolve(
    const std::string& reference, image::ImagePullPolicy policy,
    const image::PullAuth& auth) const {
  const bool would_pull = inner_.WouldPull(reference, policy);
  const absl::Time began = MonotonicNow();
  absl::StatusOr<image::ResolvedImage> r = inner_.Resolve(reference, policy, auth);
  if (r.ok() ? r->pulled : would_pull) {
    metrics_.ObserveImagePull(MonotonicNow() - began, r.status());
  }
  return r;
}

controller::ReconcileFunc InstrumentReconcile(controller::ReconcileFunc reconcile,
                                              Metrics& metrics) {
  return [reconcile = std::move(reconcile), &metrics](const std::string& id) {
    const absl::Time began = MonotonicNow();
    controller::ReconcileResult r = reconcile(id);
    metrics.ObserveReconcile(MonotonicNow() - began, r.status);
    return r;
  };
}

}  // namespace berth::metrics
