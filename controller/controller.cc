#include "controller/controller.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace berth::controller {

std::string RelistSignature(const runtime::ContainerStatus& c) {
  // The instance (its creation time) first: two instances that exited alike
  // (same state, no pid, same code) are still two changes.
  return absl::StrCat(absl::ToUnixNanos(c.created_at), "/", runtime::ContainerStateName(c.state),
                      "/", c.pid, "/", c.exit_code.value_or(-1), "/", c.reason);
}

Controller::Controller(runtime::Runtime& runtime, ReconcileFunc reconcile, const Clock& clock,
                       ControllerOptions options)
    : runtime_(runtime),
      reconcile_(std::move(reconcile)),
      options_(options),
      queue_(clock, WorkQueue::Options{options.retry_base_delay, options.retry_max_delay,
                                       options.queue_metrics, "containers"}),
      clock_(clock) {}

Controller::~Controller() { Stop(); }

void Controller::Watch(Source& source) {
  sources_.push_back(&source);
  source.Watch(&handler_);
}

void Controller::Start() {
  last_relist_ns_ = absl::ToUnixNanos(clock_.Now());
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads_.emplace_back([this] { Work(); });
  threads_.emplace_back([this] { Relist(); });
}

void Controller::Resync() {
  for (Source* s : sources_) s->Resync();
  EnqueueAll();
}

void Controller::EnqueueAll() {
  for (const Source* s : sources_) {
    for (const std::string& id : s->Ids()) queue_.Add(id);
  }
  // Each container's state is read by its reconcile: only the ids here.
  absl::StatusOr<std::vector<std::string>> ids = runtime_.ListIds();
  if (!ids.ok()) {
    spdlog::error("resync: {}", ids.status().ToString());
    return;
  }
  for (const std::string& id : *ids) queue_.Add(id);
}

absl::Time Controller::LastRelist() const {
  const int64_t ns = last_relist_ns_.load();
  return ns == 0 ? absl::InfinitePast() : absl::FromUnixNanos(ns);
}

void Controller::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  queue_.ShutDown();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Controller::Work() {
  while (std::optional<std::string> id = queue_.Get()) {
    ReconcileResult r = reconcile_(*id);
    if (r.status.ok()) {
      queue_.Forget(*id);
      if (r.requeue_after > absl::ZeroDuration()) queue_.AddAfter(*id, r.requeue_after);
    } else if (absl::IsCancelled(r.status)) {
      // Berthd is stopping (its pulls were cancelled): the next start picks
      // this up again.
      spdlog::info("reconcile {}: {}", *id, std::string(r.status.message()));
      queue_.Forget(*id);
    } else if (absl::IsInvalidArgument(r.status)) {
      // Retrying cannot help; a change of the spec or the next resync will.
      spdlog::error("reconcile {}: {}", *id, std::string(r.status.message()));
      queue_.Forget(*id);
    } else {
      spdlog::warn("reconcile {}: {} (retry {})", *id, r.status.ToString(),
                   queue_.NumRequeues(*id) + 1);
      queue_.AddRateLimited(*id);
    }
    queue_.Done(*id);
  }
}

void Controller::Relist() {
  while (!stopping_.WaitForNotificationWithTimeout(options_.relist_period)) {
    absl::StatusOr<std::vector<runtime::ContainerStatus>> all = runtime_.List();
    last_relist_ns_ = absl::ToUnixNanos(clock_.Now());
    if (!all.ok()) {
      spdlog::warn("relist: {}", all.status().ToString());
      continue;
    }
    std::map<std::string, std::string> now;
    for (const auto& c : *all) now[c.id] = RelistSignature(c);
    for (const auto& [id, sig] : now) {
      auto it = seen_.find(id);
      if (it == seen_.end() || it->second != sig) queue_.Add(id);
    }
    for (const auto& [id, sig] : seen_) {
      if (now.count(id) == 0) queue_.Add(id);
    }
    seen_ = std::move(now);
  }
}

}  // namespace berth::controller
