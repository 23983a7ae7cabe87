// NodeContainer status in the API (cluster mode): each node writes its own
// entry of status.nodes (a list map keyed by nodeName) and recomputes the
// top-level summary from all entries in the same write (CONTRACT.md):
//
//   phase              the worst entry phase: Error > Failed >
//                      CrashLoopBackOff > Pending > Running > Succeeded;
//                      Pending when there are no entries
//   restartCount       sum over entries
//   observedGeneration min over entries
//   conditions         Ready (every entry Ready), Reconciled (every entry
//                      Reconciled)
//
// An entry has Ready (True while Running) and Reconciled (False with the
// last error while reconciling fails) conditions; a condition keeps its
// lastTransitionTime while its status does not change.
//
// Writes are a GET and a PUT of .../status carrying the resourceVersion
// read; 409 Conflict re-reads and retries (bounded). Nothing is written when
// neither the node's entry nor the summary would change, and a report equal
// to the entry last written or seen for the id is dropped without a request.
//
// Threading: Report and Remove only queue (never block on the API) and may
// be called from any thread. One thread of the sink's own does the writes,
// per id coalescing: the latest Report/Remove for an id replaces any
// pending one. kUnavailable (API unreachable, 429, 5xx) retries with
// exponential backoff, never sooner than the answer's Retry-After, unless a
// newer report for the id arrived meanwhile.
// Reports for ids that are not API objects (api_object nullopt: e.g.
// manifests) are ignored. Work names the object by the namespace and name
// the report carries, or for Remove by api_object: never by splitting its
// id (a long name's id is a hash, ContainerIdFor).
#ifndef BERTH_CONTROLLER_KUBE_KUBE_STATUS_H_
#define BERTH_CONTROLLER_KUBE_KUBE_STATUS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/kube/api_client.h"
#include "controller/queue/clock.h"
#include "controller/spec/node_container.h"
#include "controller/status.h"
#include "nlohmann/json.hpp"

namespace berth::kube {

// This node's status.nodes entry for `report`. Conditions keep their
// lastTransitionTime from `previous` (the entry now in the object, or null)
// when their status is the same; otherwise `now`.
nlohmann::json NodeStatusEntry(const controller::ContainerReport& report,
                               const std::string& node_name, const nlohmann::json& previous,
                               absl::Time now);

// `status` (the object's .status, or null) with the entry of `node_name`
// replaced by `entry` (appended when new; removed when `entry` is null) and
// the summary recomputed. Everything else in `status` is kept.
nlohmann::json MergeNodeStatus(const nlohmann::json& status, const std::string& node_name,
                               const nlohmann::json& entry, absl::Time now);

// The summary phase of entry phases (CONTRACT.md order).
std::string WorstPhase(const std::vector<std::string>& phases);

class KubeStatusSink : public controller::StatusSink {
 public:
  struct Options {
    std::string node_name;
    // The namespace and name of the API object with this id (e.g.
    // KubeSource::ApiObjectName); nullopt when the id is not an API object
    // (e.g. manifests). Unset: every reported id is one, and Remove, which
    // has only the id, does nothing (an id is never split into names).
    std::function<std::optional<controller::NamespacedName>(const std::string& id)> api_object;
    // Wall clock for lastTransitionTime; must outlive the sink.
    const controller::Clock* clock = &controller::RealClock();
    int max_conflicts = 10;
    absl::Duration initial_backoff = absl::Milliseconds(200);
    absl::Duration max_backoff = absl::Seconds(30);
  };

  // `client` must outlive the sink. Starts the writer thread.
  KubeStatusSink(ApiClient& client, Options options);
  // Stops the writer thread (a request in flight is cancelled); pending writes
  // are dropped.
  ~KubeStatusSink() override;
  KubeStatusSink(const KubeStatusSink&) = delete;
  KubeStatusSink& operator=(const KubeStatusSink&) = delete;

  void Report(const controller::ContainerReport& report) override;
  void Remove(const std::string& id) override;

  // Blocks until nothing is pending or being written (retries waiting for
  // their backoff count as pending); false on timeout. For tests and
  // orderly shutdown.
  bool WaitIdle(absl::Duration timeout);

  int64_t Writes() const { return writes_.load(); }  // PUTs that succeeded

 private:
  struct Work {
    std::string id;
    std::string namespace_;
    std::string name;
    std::optional<controller::ContainerReport> report;  // nullopt: remove the entry
    absl::Time not_before = absl::InfinitePast();
    int attempts = 0;
  };

  void Run();
  // Writes one report or removal; the status code decides about retries.
  absl::Status Write(const Work& work);
  void Enqueue(Work work);

  ApiClient& client_;
  const Options options_;
  std::atomic<int64_t> writes_{0};

  Cancellation cancel_;  // cancelled by the destructor

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  std::string writing_ ABSL_GUARDED_BY(mu_);  // the id being written, if busy_
  std::map<std::string, Work> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
  // id -> this node's entry as last written or read, without condition
  // times: reports equal to it need no request.
  std::map<std::string, nlohmann::json> known_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_KUBE_STATUS_H_
