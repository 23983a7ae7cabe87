// The Kubernetes API as a Source of NodeContainers for one node.
//
// Three informers: NodeContainers in all namespaces with
// fieldSelector=spec.nodeName=<node> (targeted at the node) and with
// fieldSelector=spec.nodeName= (no node: for every node whose labels match
// the nodeSelector), and the node's own Node object
// (fieldSelector=metadata.name=<node>) for its labels. An object is held
// when it parses (ParseNodeContainer, the same validation as manifests) and
// IsForNode(object, node, node labels). A change of the node's labels
// re-evaluates every object and reports those whose membership changed.
//
// Invalid objects are not held; each invalid resourceVersion is logged once,
// and, when the object looks meant for this node, reported once as a
// Warning event (reason Failed) and an Error status through the optional
// recorder and sink. While an invalid object exists, MayRemove is false for
// its container (like a broken manifest file: the intent is unknown).
//
// Watched (Source::Watch, before Start), the informer threads push
// OnChange(id) (the id's desired state may have changed; level-triggered:
// call Get) concurrently with each other, and, once every informer has
// listed for the first time, OnResync (logged "cluster mode: the API is
// listed"): until then MayRemove was false, so every container is looked
// at again. Every other method may be called from any thread.
#ifndef BERTH_CONTROLLER_KUBE_KUBE_SOURCE_H_
#define BERTH_CONTROLLER_KUBE_KUBE_SOURCE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "controller/events.h"
#include "controller/kube/api_client.h"
#include "controller/kube/informer.h"
#include "controller/sources/source.h"
#include "controller/spec/node_container.h"
#include "controller/status.h"

namespace berth::kube {

inline constexpr char kNodeContainersPath[] = "/apis/berth.dev/v1alpha1/nodecontainers";

class KubeSource : public controller::Source {
 public:
  struct Options {
    std::string node_name;
    // Timeouts and backoff of the informers (path, selectors and name are
    // set here).
    Informer::Options informer;
    // Optional, must outlive the source: where invalid objects are reported.
    controller::EventRecorder* events = nullptr;
    controller::StatusSink* status = nullptr;
  };

  // `client` must outlive the source. Nothing happens before Start().
  KubeSource(ApiClient& client, Options options);
  ~KubeSource() override;  // Stop()
  KubeSource(const KubeSource&) = delete;
  KubeSource& operator=(const KubeSource&) = delete;

  void Start();
  // Stops the informers promptly; idempotent. Not from the handler.
  void Stop();

  // Every informer has listed once.
  bool HasSynced() const;
  // The Node informer has listed once: NodeLabels() are the Node's (empty
  // when it has none or does not exist), not "not known yet".
  bool NodeHasSynced() const;

  std::string Name() const override { return "api"; }
  std::vector<std::string> Ids() const override;
  std::optional<controller::NodeContainer> Get(const std::string& id) const override;
  // False until HasSynced(), for the id of an invalid object that exists,
  // and (asked of the API, as the cache may be between two of its watches)
  // for an object that still exists and is meant for this node. False too
  // when the API cannot be asked.
  bool MayRemove(const runtime::ContainerStatus& container) const override;
  void Watch(Handler* handler) override { handler_ = handler; }

  // The valid object with this id, whether or not it is meant for this node
  // (Get returns only those that are), with origin "api". The reconciler
  // needs one that is no longer meant for the node to remove its container
  // and finalizer here.
  std::optional<controller::NodeContainer> Lookup(const std::string& id) const;

  // Whether `id` names an object the informers hold, valid or not, for this
  // node or not: the test for KubeStatusSink's "is an API object".
  bool IsApiObject(const std::string& id) const;

  // The namespace and name of the object with this id the informers hold,
  // valid or not (KubeStatusSink's api_object); nullopt when none.
  std::optional<controller::NamespacedName> ApiObjectName(const std::string& id) const;

  std::map<std::string, std::string> NodeLabels() const;

 private:
  struct Entry {
    std::string resource_version;
    std::optional<controller::NodeContainer> object;  // set when valid
    nlohmann::json raw;                               // set when invalid
  };
  using Entries = std::map<std::string, Entry>;

  void OnObject(int which, const nlohmann::json& object);
  void OnObjectDeleted(int which, const nlohmann::json& object);
  void OnNode(const nlohmann::json& node, bool deleted);
  // Reports an invalid object once per resourceVersion.
  void ReportInvalid(const std::string& id, const nlohmann::json& object,
                     const absl::Status& error);
  bool HeldLocked(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Entry* FindLocked(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Whether the API holds the object of `container` (by the namespace and
  // name it carries) meant for this node; true also when the API cannot say.
  bool StillForThisNode(const runtime::ContainerStatus& container) const;
  // Pushes OnResync once every informer has listed (polled every 100 ms).
  void AwaitFirstList();
  void Changed(const std::string& id);

  ApiClient& client_;
  const Options options_;
  std::atomic<Handler*> handler_{nullptr};
  std::unique_ptr<Informer> informers_[2];  // 0: targeted, 1: any node
  std::unique_ptr<Informer> node_informer_;

  mutable absl::Mutex mu_;
  Entries entries_[2] ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> node_labels_ ABSL_GUARDED_BY(mu_);
  // id -> resourceVersion last reported invalid.
  std::map<std::string, std::string> reported_ ABSL_GUARDED_BY(mu_);

  absl::Mutex lister_mu_;
  bool stopping_ ABSL_GUARDED_BY(lister_mu_) = false;
  std::thread first_list_;  // AwaitFirstList, when watched
};

// The id (ContainerIdFor) of an API object; "" when it has no name.
std::string IdOf(const nlohmann::json& object);

// Whether two versions of an object desire the same (SameDesiredState),
// whatever their resourceVersions: an update of the status alone is not a
// change for the controller.
bool SameDesiredStateButVersion(const controller::NodeContainer& a,
                                const controller::NodeContainer& b);

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_KUBE_SOURCE_H_
