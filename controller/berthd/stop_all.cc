#include "controller/berthd/stop_all.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "controller/spec/container_annotations.h"
#include "spdlog/spdlog.h"

namespace berth::berthd {
namespace {

// A counting semaphore over absl::Mutex.
class Slots {
 public:
  explicit Slots(int n) : free_(n) {}
  void Acquire() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* free) { return *free > 0; }, &free_));
    --free_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++free_;
  }

 private:
  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void StopAll(runtime::Runtime& rt, controller::LifecycleHooks& hooks,
             controller::StatusSink& status, const StopAllOptions& options) {
  absl::StatusOr<std::vector<runtime::ContainerStatus>> all = rt.List();
  if (!all.ok()) {
    spdlog::error("stop every container: {}", all.status().ToString());
    return;
  }
  Slots deletes(options.delete_parallelism > 0 ? options.delete_parallelism : 1);
  const int attempts = options.delete_attempts > 0 ? options.delete_attempts : 1;
  std::vector<std::thread> stoppers;
  stoppers.reserve(all->size());
  for (const runtime::ContainerStatus& c : *all) {
    stoppers.emplace_back([&, id = c.id, annotations = c.annotations] {
      const absl::Duration grace =
          controller::ContainerAnnotations::Decode(annotations).grace_period;
      const controller::StopOutcome stop = hooks.Stop(id, grace);
      if (stop.pre_stop.failed) {
        spdlog::warn("container {}: FailedPreStopHook: PreStop hook failed: {}", id,
                     stop.pre_stop.output);
      }
      if (!stop.status.ok()) spdlog::error("{}", stop.status.ToString());
      absl::Status deleted;
      for (int attempt = 1; attempt <= attempts; ++attempt) {
        if (attempt > 1) absl::SleepFor(options.retry_pause);
        deletes.Acquire();
        deleted = rt.Delete(id);
        deletes.Release();
        if (deleted.ok()) break;
        if (attempt < attempts) {
          spdlog::warn("{} (attempt {} of {})", deleted.ToString(), attempt, attempts);
        }
      }
      if (!deleted.ok()) {
        spdlog::error("{}", deleted.ToString());
        return;
      }
      hooks.Forget(id);
      status.Remove(id);
      spdlog::info("stopped and removed container {}", id);
    });
  }
  for (std::thread& t : stoppers) t.join();
}

}  // namespace berth::berthd
