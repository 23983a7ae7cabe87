// The control loop: a de-duplicating work queue of container ids that the
// controller owns, the sources that push into it (Watch), a pool of workers
// running the reconcile function, and a relister that notices changes on the
// node (exits, kills behind Berth's back) the way kubelet's PLEG does. Exits
// also arrive as events (runtime::ExitWatcher, pushed through a
// ChannelSource); the relist is the safety net for what no event reports.
//
// Like controller-runtime's controller: sources are watched before Start,
// each push is level-triggered (the reconcile re-reads everything), and the
// queue de-duplicates, retries with per-key exponential backoff and never
// hands one id to two workers at once.
#ifndef BERTH_CONTROLLER_CONTROLLER_H_
#define BERTH_CONTROLLER_CONTROLLER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "controller/queue/clock.h"
#include "controller/queue/queue_metrics.h"
#include "controller/queue/work_queue.h"
#include "controller/reconciler.h"
#include "controller/sources/source.h"
#include "runtime/runtime.h"

namespace berth::controller {

struct ControllerOptions {
  int workers = 2;
  // How often the runtime is listed to notice exits and drift.
  absl::Duration relist_period = absl::Seconds(1);
  // Retries after errors: per-key exponential backoff.
  absl::Duration retry_base_delay = absl::Milliseconds(200);
  absl::Duration retry_max_delay = absl::Minutes(5);
  // The work queue's metrics (labelled name="containers"); null: none.
  QueueMetricsProvider* queue_metrics = nullptr;
};

// What the relister compares between two lists for one container: the
// instance (its creation time), its state, pid, exit code and reason. A
// change of any queues the container.
std::string RelistSignature(const runtime::ContainerStatus& container);

// Brings one container id to its desired state (Reconciler::Reconcile in
// berthd). Called from the workers, never twice at once for one id. An OK
// result is forgotten by the backoff (and requeued after requeue_after when
// set); kCancelled (berthd stopping) and kInvalidArgument (retrying cannot
// help) are logged and dropped; any other error is retried with backoff.
using ReconcileFunc = std::function<ReconcileResult(const std::string& id)>;

class Controller {
 public:
  // `runtime` and `clock` must outlive the controller. The clock times the
  // queue's delays: it must not jump (SteadyClock()).
  Controller(runtime::Runtime& runtime, ReconcileFunc reconcile, const Clock& clock,
             ControllerOptions options);
  ~Controller();  // Stop()

  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Watches `source`: its pushes (Source::Handler) reach the queue, its ids
  // count as desired in EnqueueAll, and Resync re-reads it. Before Start;
  // the source must outlive the controller or be stopped before it.
  void Watch(Source& source);

  // Starts the workers and the relister. Ids pushed before are kept.
  void Start();
  // The periodic resync (and SIGHUP): every watched source re-reads what it
  // cannot watch (Source::Resync), then EnqueueAll.
  void Resync();
  // Every desired id and every container on the node (a full resync).
  void EnqueueAll();
  // Stops taking work, lets running reconciles finish, joins the threads.
  // Pushes after it are dropped. Idempotent.
  void Stop();

  // For health checks: the clock's time when the relister last finished a
  // pass (a list of the runtime, good or not), or when Start ran before the
  // first; InfinitePast before Start.
  absl::Time LastRelist() const;
  // The reconciles running now (WorkQueue::InProgress).
  QueueInProgress InProgress() const { return queue_.InProgress(); }

 private:
  // What the watched sources call.
  class QueueHandler : public Source::Handler {
   public:
    explicit QueueHandler(Controller& controller) : controller_(controller) {}
    void OnChange(const std::string& id) override { controller_.queue_.Add(id); }
    void OnResync() override { controller_.EnqueueAll(); }

   private:
    Controller& controller_;
  };

  void Work();
  void Relist();

  runtime::Runtime& runtime_;
  const ReconcileFunc reconcile_;
  const ControllerOptions options_;
  WorkQueue queue_;
  QueueHandler handler_{*this};
  std::vector<Source*> sources_;  // set before Start, then read-only
  absl::Notification stopping_;
  std::vector<std::thread> threads_;
  // Relister's view of the node: id -> what it saw last.
  std::map<std::string, std::string> seen_;
  const Clock& clock_;
  std::atomic<int64_t> last_relist_ns_{0};  // 0: never
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_CONTROLLER_H_
