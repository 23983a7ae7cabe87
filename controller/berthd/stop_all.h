// StopAll: what `berthd --stop-on-exit` does last: every container stopped
// (its preStop hook, then the stop signal and the grace period) and deleted.
//
// Guarantees:
//  * The stops run all at once (each may wait out its grace period, and
//    none should wait for another's).
//  * At most `delete_parallelism` deletes run at a time. A delete releases
//    the container's network: the CNI plugins take the node's xtables lock
//    one at a time, so hundreds of them at once only queue up there until
//    their timeout kills them, leaving firewall rules and a network
//    namespace behind.
//  * A delete that fails is tried again, up to `delete_attempts` in all,
//    `retry_pause` apart; what still fails is logged, and its record stays
//    for the next start of berthd to remove.
//  * Returns once every container has been handled.
#ifndef BERTH_CONTROLLER_BERTHD_STOP_ALL_H_
#define BERTH_CONTROLLER_BERTHD_STOP_ALL_H_

#include "absl/time/time.h"
#include "controller/lifecycle_hooks.h"
#include "controller/status.h"
#include "runtime/runtime.h"

namespace berth::berthd {

struct StopAllOptions {
  int delete_parallelism = 4;
  int delete_attempts = 3;
  absl::Duration retry_pause = absl::Seconds(1);
};

void StopAll(runtime::Runtime& rt, controller::LifecycleHooks& hooks,
             controller::StatusSink& status, const StopAllOptions& options = {});

}  // namespace berth::berthd

#endif  // BERTH_CONTROLLER_BERTHD_STOP_ALL_H_
