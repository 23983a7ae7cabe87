#include "controller/queue/work_queue.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::controller {
namespace {

class NoopGauge : public QueueGauge {
 public:
  void Inc() override {}
  void Dec() override {}
};
class NoopCounter : public QueueCounter {
 public:
  void Inc() override {}
};
class NoopHistogram : public QueueHistogram {
 public:
  void Observe(double) override {}
};

double Seconds(absl::Duration d) {
  return absl::ToDoubleSeconds(std::max(d, absl::ZeroDuration()));
}

}  // namespace

WorkQueue::WorkQueue(const Clock& clock) : WorkQueue(clock, Options()) {}

WorkQueue::WorkQueue(const Clock& clock, Options options) : clock_(clock), options_(options) {
  if (QueueMetricsProvider* p = options_.metrics; p != nullptr) {
    metrics_.depth = p->NewDepthMetric(options_.name);
    metrics_.adds = p->NewAddsMetric(options_.name);
    metrics_.latency = p->NewLatencyMetric(options_.name);
    metrics_.work_duration = p->NewWorkDurationMetric(options_.name);
    metrics_.retries = p->NewRetriesMetric(options_.name);
    in_progress_ = p->NewInProgressMetric(options_.name, [this] { return InProgress(); });
  } else {
    metrics_.depth = std::make_unique<NoopGauge>();
    metrics_.adds = std::make_unique<NoopCounter>();
    metrics_.latency = std::make_unique<NoopHistogram>();
    metrics_.work_duration = std::make_unique<NoopHistogram>();
    metrics_.retries = std::make_unique<NoopCounter>();
  }
}

WorkQueue::~WorkQueue() { in_progress_.reset(); }

void WorkQueue::Add(const std::string& key) {
  absl::MutexLock lock(&mu_);
  AddLocked(key);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;  // Already queued or re-queued.
  metrics_.adds->Inc();
  metrics_.depth->Inc();
  queued_at_.try_emplace(key, clock_.Now());
  // A key being processed stays dirty only; Done re-queues it.
  if (processing_.contains(key)) return;
  queue_.push_back(key);
  cond_.Signal();
}

void WorkQueue::AddAfter(const std::string& key, absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  if (delay <= absl::ZeroDuration()) {
    AddLocked(key);
    return;
  }
  const absl::Time ready = clock_.Now() + delay;
  auto it = ready_at_.find(key);
  if (it != ready_at_.end()) {
    if (it->second <= ready) return;  // Keep the earlier ready time.
    waiting_.erase({it->second, key});
    it->second = ready;
  } else {
    ready_at_.emplace(key, ready);
  }
  const auto pos = waiting_.emplace(ready, key).first;
  // A new earliest ready time shortens every blocked Get's timeout.
  if (pos == waiting_.begin()) cond_.SignalAll();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  absl::Duration delay;
  {
    absl::MutexLock lock(&mu_);
    if (!shutting_down_) metrics_.retries->Inc();
    delay = BackoffLocked(key);
  }
  AddAfter(key, delay);
}

absl::Duration WorkQueue::BackoffLocked(const std::string& key) {
  int& failures = failures_[key];
  const int exponent = failures;
  if (failures < std::numeric_limits<int>::max()) ++failures;
  // Duration * int64 saturates to InfiniteDuration on overflow; the shift is
  // bounded so that it cannot overflow itself.
  if (exponent >= 62) return options_.max_delay;
  const absl::Duration backoff = options_.base_delay * (int64_t{1} << exponent);
  return backoff > options_.max_delay ? options_.max_delay : backoff;
}

void WorkQueue::Forget(const std::string& key) {
  absl::MutexLock lock(&mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteLocked(absl::Time now) {
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    auto node = waiting_.extract(waiting_.begin());
    ready_at_.erase(node.value().second);
    AddLocked(node.value().second);
  }
}

std::optional<std::string> WorkQueue::Get() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    const absl::Time now = clock_.Now();
    PromoteLocked(now);
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      metrics_.depth->Dec();
      if (auto it = queued_at_.find(key); it != queued_at_.end()) {
        metrics_.latency->Observe(Seconds(now - it->second));
        queued_at_.erase(it);
      }
      started_at_[key] = now;
      // Promotion may have queued several keys with one wake-up; pass it on.
      if (!queue_.empty()) cond_.Signal();
      return key;
    }
    if (waiting_.empty()) {
      cond_.Wait(&mu_);
    } else {
      // Positive: the head was not promoted above. Spurious or early
      // wake-ups just re-check.
      cond_.WaitWithTimeout(&mu_, waiting_.begin()->first - now);
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  absl::MutexLock lock(&mu_);
  if (processing_.erase(key) == 0) return;
  if (auto it = started_at_.find(key); it != started_at_.end()) {
    metrics_.work_duration->Observe(Seconds(clock_.Now() - it->second));
    started_at_.erase(it);
  }
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    cond_.Signal();
  }
}

void WorkQueue::Wake() {
  absl::MutexLock lock(&mu_);
  cond_.SignalAll();
}

void WorkQueue::ShutDown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  cond_.SignalAll();
}

bool WorkQueue::ShuttingDown() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  absl::MutexLock lock(&mu_);
  size_t len = queue_.size();
  const absl::Time now = clock_.Now();
  // Waiting keys Get would promote now. A dirty key is already counted (it is
  // queued) or is processing; a processing key would only become dirty.
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first <= now; ++it) {
    if (!dirty_.contains(it->second) && !processing_.contains(it->second)) {
      ++len;
    }
  }
  return len;
}

QueueInProgress WorkQueue::InProgress() const {
  absl::MutexLock lock(&mu_);
  QueueInProgress p;
  const absl::Time now = clock_.Now();
  for (const auto& [key, started] : started_at_) {
    const double age = Seconds(now - started);
    p.unfinished_work_seconds += age;
    p.longest_running_processor_seconds = std::max(p.longest_running_processor_seconds, age);
  }
  return p;
}

}  // namespace berth::controller
