#include "controller/queue/periodic.h"

#include <utility>

namespace berth::controller {

Periodic::Periodic(absl::Duration period, std::function<void()> task, const Clock& clock)
    : period_(period), task_(std::move(task)), clock_(clock) {}

Periodic::~Periodic() { Stop(); }

void Periodic::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void Periodic::RunNow() {
  absl::MutexLock l(&mu_);
  now_ = true;
}

void Periodic::Wake() {
  absl::MutexLock l(&mu_);
  ++wakes_;
}

void Periodic::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Periodic::Loop() {
  absl::Time next = clock_.Now() + period_;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      while (!stop_ && !now_ && clock_.Now() < next) {
        const int wakes = wakes_;
        auto woken = [this, wakes]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_ || now_ || wakes_ != wakes;
        };
        mu_.AwaitWithTimeout(absl::Condition(&woken), next - clock_.Now());
      }
      if (stop_) return;
      now_ = false;
    }
    task_();
    next = clock_.Now() + period_;
  }
}

}  // namespace berth::controller
