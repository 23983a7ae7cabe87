#include "controller/probe/timer_pool.h"

namespace berth::controller {

TimerPool::TimerPool(const Clock& clock, int workers) : clock_(clock) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

TimerPool::~TimerPool() { Stop(); }

uint64_t TimerPool::Schedule(absl::Time at, Task task) {
  absl::MutexLock l(&mu_);
  if (stopping_) return 0;
  const uint64_t handle = next_++;
  // Earlier than what the threads wait for: they look again.
  if (heap_.empty() || at < heap_.begin()->first) ++wakes_;
  heap_.emplace(at, handle);
  tasks_.emplace(handle, std::make_pair(at, std::move(task)));
  return handle;
}

void TimerPool::Cancel(uint64_t handle) {
  absl::MutexLock l(&mu_);
  auto it = tasks_.find(handle);
  if (it == tasks_.end()) return;
  heap_.erase({it->second.first, handle});
  tasks_.erase(it);
}

void TimerPool::Wake() {
  absl::MutexLock l(&mu_);
  ++wakes_;
}

size_t TimerPool::Pending() const {
  absl::MutexLock l(&mu_);
  return tasks_.size();
}

TimerPool::Task TimerPool::PopDue(absl::Time now) {
  if (heap_.empty() || heap_.begin()->first > now) return nullptr;
  const uint64_t handle = heap_.begin()->second;
  heap_.erase(heap_.begin());
  auto it = tasks_.find(handle);
  Task task = std::move(it->second.second);
  tasks_.erase(it);
  return task;
}

int TimerPool::RunDue() {
  int ran = 0;
  // Bounded: a task that keeps scheduling itself as due would loop.
  for (int i = 0; i < 100000; ++i) {
    Task task;
    {
      absl::MutexLock l(&mu_);
      task = PopDue(clock_.Now());
    }
    if (!task) break;
    task();
    ++ran;
  }
  return ran;
}

void TimerPool::Work() {
  mu_.Lock();
  while (!stopping_) {
    const absl::Time now = clock_.Now();
    if (Task task = PopDue(now)) {
      mu_.Unlock();
      task();
      task = nullptr;  // what it holds goes before the lock is taken
      mu_.Lock();
      continue;
    }
    const uint64_t seen = wakes_;
    auto changed = [this, seen]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || wakes_ != seen; };
    if (heap_.empty()) {
      mu_.Await(absl::Condition(&changed));
    } else {
      mu_.AwaitWithTimeout(absl::Condition(&changed), heap_.begin()->first - now);
    }
  }
  mu_.Unlock();
}

void TimerPool::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    heap_.clear();
    tasks_.clear();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace berth::controller
