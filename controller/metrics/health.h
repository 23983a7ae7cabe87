// berthd's health, as /healthz and /readyz report it (Kubernetes' style:
// 200 "ok", or 500/503 with one line per failing check).
//
// /healthz — liveness: "the loops are alive". Failing means berthd is
// wedged and a restart would help (kubelet's liveness probe restarts the
// pod; the containers keep running and are adopted). The checks:
//  * "relist": the controller's relister finished a pass (a List of the
//    runtime) within max(3 min, 3 x --relist-period). It runs every relist
//    period on its own thread, so a stale pass means the runtime's List
//    (its state files, a stuck file system) or the thread is stuck; 3 min
//    is kubelet's PLEG relist threshold.
//  * "workers": no reconcile has been running for longer than 15 min
//    (WorkQueue::InProgress, longest running processor). A reconcile is
//    bounded by its runtime calls (create 30 s, stop grace + 10 s) and its
//    pull; longer means a worker hangs.
// (The resync and image GC tasks enqueue work or run alone; the relist
// check covers the runtime they share.)
//
// /readyz — readiness: 503 with the reason until berthd has recovered the
// node's containers (RuncRuntime::Open), started its controller, read the
// manifests directory and (cluster mode) listed the API's NodeContainers and
// its Node; 503 again once it is shutting down.
#ifndef BERTH_CONTROLLER_METRICS_HEALTH_H_
#define BERTH_CONTROLLER_METRICS_HEALTH_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::metrics {

// A set of named checks, each an absl::Status (OK: passing). Thread-safe.
class HealthChecks {
 public:
  struct Result {
    bool ok = true;
    // "[+]name ok" / "[-]name failed: reason" per check, then "ok" or
    // "<which> check failed" (the apiserver's verbose healthz output).
    std::string body;
  };

  void Add(std::string name, std::function<absl::Status()> check) ABSL_LOCKS_EXCLUDED(mu_);
  Result Run() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> checks_ ABSL_GUARDED_BY(mu_);
};

// The thresholds of /healthz (above).
inline constexpr absl::Duration kRelistThreshold = absl::Minutes(3);
inline constexpr absl::Duration kReconcileThreshold = absl::Minutes(15);

// "relist": OK when `last` (the clock's time of the last pass) is at most
// max(kRelistThreshold, 3 x relist_period) before `now`.
absl::Status CheckRelist(absl::Time last, absl::Time now, absl::Duration relist_period);
// "workers": OK when the longest running reconcile has run at most
// kReconcileThreshold.
absl::Status CheckWorkers(double longest_running_seconds);

// Whether berthd is ready, and why not (for /readyz). Thread-safe.
class Readiness {
 public:
  // Not ready: "starting".
  Readiness();
  // Not ready, with `reason`.
  void NotReady(std::string reason) ABSL_LOCKS_EXCLUDED(mu_);
  // Ready once `synced` says OK (asked at each check: e.g. "the API's
  // NodeContainers are listed"); until then its message is the reason.
  void ReadyWhen(std::function<absl::Status()> synced) ABSL_LOCKS_EXCLUDED(mu_);
  // OK, or kUnavailable with the reason.
  absl::Status Check() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::string reason_ ABSL_GUARDED_BY(mu_);  // empty: ask synced_
  std::function<absl::Status()> synced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_HEALTH_H_
