// The control loop: a de-duplicating work queue of container ids, a pool of
// workers running the Reconciler, and a relister that notices changes on the
// node (exits, kills behind Berth's back) the way kubelet's PLEG does. Exits
// also arrive as events (runtime::ExitWatcher, wired by berthd to Enqueue);
// the relist is the safety net for what no event reports.
#ifndef BERTH_CONTROLLER_CONTROLLER_H_
#define BERTH_CONTROLLER_CONTROLLER_H_

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/clock.h"
#include "controller/reconciler.h"
#include "controller/work_queue.h"
#include "runtime/runtime.h"

namespace berth::controller {

struct ControllerOptions {
  int workers = 2;
  // How often the runtime is listed to notice exits and drift.
  absl::Duration relist_period = absl::Seconds(1);
  // Retries after errors: per-key exponential backoff.
  absl::Duration retry_base_delay = absl::Milliseconds(200);
  absl::Duration retry_max_delay = absl::Minutes(5);
};

// What the relister compares between two lists for one container: the
// instance (its creation time), its state, pid, exit code and reason. A
// change of any queues the container.
std::string RelistSignature(const runtime::ContainerStatus& container);

class Controller {
 public:
  // `desired_ids` returns every id the sources currently want.
  Controller(runtime::Runtime& runtime, Reconciler& reconciler,
             std::function<std::vector<std::string>()> desired_ids, const Clock& clock,
             ControllerOptions options);
  ~Controller();  // Stop()

  void Start();
  void Enqueue(const std::string& id);
  // Every desired id and every container on the node (a full resync).
  void EnqueueAll();
  // Stops taking work, lets running reconciles finish, joins the threads.
  void Stop();

 private:
  void Work();
  void Relist();

  runtime::Runtime& runtime_;
  Reconciler& reconciler_;
  std::function<std::vector<std::string>()> desired_ids_;
  ControllerOptions options_;
  WorkQueue queue_;
  absl::Notification stopping_;
  std::vector<std::thread> threads_;
  // Relister's view of the node: id -> what it saw last.
  std::map<std::string, std::string> seen_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_CONTROLLER_H_
