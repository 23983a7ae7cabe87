// core/v1 Events about NodeContainers, as kubelet records them about pods
// (CONTRACT.md): in the object's namespace, source {component berthd, host
// <node>}, reportingComponent berth.dev/berthd, reportingInstance <node>.
// A repeat of the same (object uid, reason, message, type) within 10
// minutes of the previous one PATCHes that Event's count and lastTimestamp
// instead of creating a new one (kubelet's aggregation); if that Event is
// gone, a new one is created.
//
// Threading: Record never blocks on the API and may be called from any
// thread: it queues the event (bounded; when full, the event is dropped and
// counted). One thread of the recorder's own sends them, in order. Objects
// without a uid (not from the API, e.g. manifests) are ignored.
#ifndef BERTH_CONTROLLER_KUBE_KUBE_EVENTS_H_
#define BERTH_CONTROLLER_KUBE_KUBE_EVENTS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/events.h"
#include "controller/kube/api_client.h"
#include "controller/queue/clock.h"
#include "nlohmann/json.hpp"

namespace berth::kube {

// The aggregation key: uid, reason, message and type (joined with NULs).
std::string EventKey(const controller::NodeContainer& object, controller::EventType type,
                     absl::string_view reason, absl::string_view message);

class KubeEventRecorder : public controller::EventRecorder {
 public:
  struct Options {
    std::string node_name;
    const controller::Clock* clock = &controller::RealClock();  // event times
    size_t queue_capacity = 1000;
    size_t cache_size = 4096;  // aggregation keys remembered (least recent dropped)
    absl::Duration aggregation_window = absl::Minutes(10);
    int max_attempts = 3;  // per event, for kUnavailable
    absl::Duration retry_delay = absl::Milliseconds(500);
  };

  // `client` must outlive the recorder. Starts the sender thread.
  KubeEventRecorder(ApiClient& client, Options options);
  // Stops the sender (a request in flight is cancelled); queued events are
  // dropped.
  ~KubeEventRecorder() override;
  KubeEventRecorder(const KubeEventRecorder&) = delete;
  KubeEventRecorder& operator=(const KubeEventRecorder&) = delete;

  void Record(const controller::NodeContainer& object, controller::EventType type,
              absl::string_view reason, absl::string_view message) override;

  // Blocks until the queue is empty and nothing is being sent; false on
  // timeout.
  bool WaitIdle(absl::Duration timeout);

  int64_t Dropped() const { return dropped_.load(); }  // queue full
  int64_t Failed() const { return failed_.load(); }    // API refused or unreachable

 private:
  struct Pending {
    controller::NodeContainer object;
    controller::EventType type;
    std::string reason;
    std::string message;
    absl::Time time;
  };
  struct Sent {
    std::string name;  // the Event's metadata.name
    std::string namespace_;
    int64_t count = 0;
    absl::Time last;    // lastTimestamp
    uint64_t used = 0;  // LRU tick
  };

  void Run();
  absl::Status Send(const Pending& p);
  absl::Status Create(const Pending& p, const std::string& key);

  ApiClient& client_;
  const Options options_;
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> failed_{0};
  std::map<std::string, Sent> cache_;  // sender thread only
  uint64_t tick_ = 0;                  // sender thread only
  uint64_t last_nanos_ = 0;            // sender thread only: last name suffix

  Cancellation cancel_;  // cancelled by the destructor

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_KUBE_EVENTS_H_
