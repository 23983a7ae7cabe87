// A list-watch cache of one kind of Kubernetes object, as client-go's
// Reflector + Store + informer: LIST, then WATCH from the list's
// resourceVersion with bookmarks; a dropped watch resumes from the last
// resourceVersion seen (events and bookmarks advance it) after an
// exponential backoff with jitter (bounded by max_backoff); an expired
// resourceVersion (410 Gone, or an ERROR event with code 410) makes it LIST
// again and deliver the difference to its store: objects added or changed
// meanwhile, and deletions missed while away (synthesized from the last
// state it had). Objects whose resourceVersion did not change are not
// delivered again.
//
// Threading: Start() runs the loop on a thread of its own; the handlers are
// called from that thread only, one at a time, after the store was updated,
// and must not call Stop(). Get, List, HasSynced, ResourceVersion and the
// counters may be called from any thread. Stop() is prompt: it cancels the
// open request or watch and interrupts a backoff wait, then joins.
#ifndef BERTH_CONTROLLER_KUBE_INFORMER_H_
#define BERTH_CONTROLLER_KUBE_INFORMER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/kube/api_client.h"
#include "controller/kube/list_watch.h"  // ObjectKey
#include "nlohmann/json.hpp"

namespace berth::kube {

class Informer {
 public:
  struct Options {
    // Collection path: "/apis/berth.dev/v1alpha1/nodecontainers" (all
    // namespaces) or "/api/v1/nodes".
    std::string path;
    std::string label_selector;  // raw selector, e.g. "app=x"; escaped here
    std::string field_selector;  // e.g. "spec.nodeName=node-1"
    // Server-side timeoutSeconds of each watch: uniformly random in
    // [watch_timeout, 2 * watch_timeout), as client-go does.
    absl::Duration watch_timeout = absl::Minutes(5);
    // A watch that receives nothing (no event, no bookmark) for this long is
    // closed and reopened. Must exceed the server's bookmark interval.
    absl::Duration inactivity_timeout = absl::Seconds(90);
    // Backoff after a failed list or watch: initial * 2^n, capped at max,
    // plus up to `jitter` times that at random, and never less than a 429 or
    // 5xx answer's Retry-After; reset by a watch that delivered something or
    // ran for a while.
    absl::Duration initial_backoff = absl::Milliseconds(800);
    absl::Duration max_backoff = absl::Seconds(30);
    double jitter = 0.5;
    // Page size of lists (limit/continue); 0: no paging.
    int64_t page_size = 500;
    // For logs: "nodecontainers spec.nodeName=n1".
    std::string name;
  };

  using Handler = std::function<void(const std::string& key, const nlohmann::json& object)>;
  struct Handlers {
    Handler on_add;     // a new object (or one seen again after a relist)
    Handler on_update;  // a changed object (new resourceVersion); the new state
    Handler on_delete;  // a deleted object; its last known state
  };

  // `client` must outlive the informer. Nothing happens before Start().
  Informer(ApiClient& client, Options options, Handlers handlers);
  ~Informer();  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void Start();
  // Idempotent; must not be called from a handler.
  void Stop();

  // True once the first list was stored and delivered to the handlers.
  bool HasSynced() const;
  std::optional<nlohmann::json> Get(const std::string& key) const;
  std::vector<nlohmann::json> List() const;
  std::vector<std::string> Keys() const;
  // The resourceVersion a reconnecting watch would start from.
  std::string ResourceVersion() const;

  // For tests and metrics: lists done, watches opened.
  int64_t ListCount() const { return lists_.load(); }
  int64_t WatchCount() const { return watches_.load(); }

 private:
  enum class WatchEnd { kReconnect, kBackoff, kRelist, kStopped };

  void Run();
  absl::Status ListAndReplace();
  WatchEnd WatchOnce();
  // Applies one watch event line; false ends the watch with `*end` set.
  bool HandleEvent(absl::string_view line, WatchEnd* end, bool* delivered);
  void Upsert(const std::string& key, const nlohmann::json& object);
  // Sleeps the next backoff step; false when stopping.
  bool Backoff();
  std::string Query(bool watch, const std::string& resource_version,
                    const std::string& continue_token) const;

  ApiClient& client_;
  const Options options_;
  const Handlers handlers_;
  Cancellation cancel_;
  std::thread thread_;
  std::atomic<int64_t> lists_{0};
  std::atomic<int64_t> watches_{0};
  int backoff_steps_ = 0;  // informer thread only
  // The last failure's Retry-After: the next Backoff waits at least that
  // long. Informer thread only.
  absl::Duration retry_after_ = absl::ZeroDuration();

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, nlohmann::json> store_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_INFORMER_H_
