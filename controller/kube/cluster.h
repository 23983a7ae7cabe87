// Everything berthd adds in cluster mode, wired together: the API client,
// the NodeContainer source (list-watch), status, events, finalizers and
// imagePullSecrets. berthd hands its parts to the reconciler and the
// controller; objects from other sources (origin other than "api") are left
// alone by the finalizer and secret hooks.
#ifndef BERTH_CONTROLLER_KUBE_CLUSTER_H_
#define BERTH_CONTROLLER_KUBE_CLUSTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/events.h"
#include "controller/kube/api_client.h"
#include "controller/kube/finalizers.h"
#include "controller/kube/kube_events.h"
#include "controller/kube/kube_source.h"
#include "controller/kube/kube_status.h"
#include "controller/kube/kubeconfig.h"
#include "runtime/image/image_store.h"

namespace berth::kube {

struct ClusterOptions {
  std::string node_name;
  // --kubeconfig; empty: the in-cluster service account.
  std::string kubeconfig;
  std::string context;
};

class Cluster {
 public:
  // Reads the configuration and builds the parts; nothing is sent before
  // Start. What changes is pushed by source() to whoever watches it
  // (Source::Watch, before Start).
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(const ClusterOptions& options);
  ~Cluster();

  void Start();
  // Stops the informers and writers; pending status writes and events are
  // given `grace` to go out.
  void Stop(absl::Duration grace);

  KubeSource& source() { return *source_; }
  controller::StatusSink& status() { return *status_; }
  controller::EventRecorder& events() { return *events_; }

  // The reconciler's hooks for API objects.
  absl::Status Claim(const controller::NodeContainer& object);
  absl::Status Release(const controller::NodeContainer& object);
  // The object's imagePullSecrets (type kubernetes.io/dockerconfigjson).
  absl::StatusOr<image::PullAuth> PullAuthFor(const controller::NodeContainer& object);

  // This node's labels for nodeSelector: the Node object's over `flags`
  // (--node-labels).
  std::map<std::string, std::string> NodeLabels(
      const std::map<std::string, std::string>& flags) const;

  const std::string& server() const { return client_->config().server; }

 private:
  Cluster() = default;

  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<KubeSource> source_;
  std::unique_ptr<KubeStatusSink> status_;
  std::unique_ptr<KubeEventRecorder> events_;
  std::unique_ptr<Finalizers> finalizers_;
};

// Events to several recorders (the log and the API).
class TeeEventRecorder : public controller::EventRecorder {
 public:
  explicit TeeEventRecorder(std::vector<controller::EventRecorder*> recorders)
      : recorders_(std::move(recorders)) {}
  void Record(const controller::NodeContainer& object, controller::EventType type,
              absl::string_view reason, absl::string_view message) override {
    for (controller::EventRecorder* r : recorders_) r->Record(object, type, reason, message);
  }

 private:
  std::vector<controller::EventRecorder*> recorders_;
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_CLUSTER_H_
