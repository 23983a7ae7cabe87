// This node's finalizer on NodeContainer objects: added before the node
// creates the object's container, removed once that container is stopped and
// deleted, so that deleting an object waits for every node that ran it.
//
// Writes are JSON merge patches of metadata.finalizers carrying the full new
// list and metadata.resourceVersion as a precondition; a 409 Conflict
// re-reads the object and tries again (bounded).
//
// What the server last answered about this node's finalizer on each object
// (its list in the answer of a write or a read) is remembered: a copy of the
// object that disagrees with it (e.g. an informer's copy from before this
// node's own write, or one showing that someone removed the finalizer by
// hand) is not trusted, the object is read first.
//
// Thread-safe; calls block on the API.
#ifndef BERTH_CONTROLLER_KUBE_FINALIZERS_H_
#define BERTH_CONTROLLER_KUBE_FINALIZERS_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "controller/kube/api_client.h"
#include "controller/spec/node_container.h"
#include "nlohmann/json.hpp"

namespace berth::kube {

inline constexpr char kFinalizerPrefix[] = "node.berth.dev/";

// "node.berth.dev/<node>", or for a node name over 63 characters
// "node.berth.dev/<first 46 chars>-<16 hex of FNV-1a 64 of the name>".
std::string FinalizerName(const std::string& node_name);

// FNV-1a, 64 bits.
uint64_t Fnv1a64(absl::string_view data);

// "/apis/berth.dev/v1alpha1/namespaces/<ns>/nodecontainers/<name>".
std::string NodeContainerPath(const std::string& namespace_, const std::string& name);

class Finalizers {
 public:
  // `client` must outlive this.
  Finalizers(ApiClient& client, std::string node_name);

  const std::string& name() const { return finalizer_; }

  // Adds this node's finalizer unless the object already has it. Starts from
  // `object`'s finalizers and resourceVersion (see below) and re-reads on a
  // conflict.
  // kNotFound when the object is gone; kFailedPrecondition when it is being
  // deleted and lacks the finalizer (the API refuses new finalizers then);
  // kUnavailable when the API cannot be reached; kAborted after too many
  // conflicts.
  absl::Status Ensure(const controller::NodeContainer& object);

  // Removes this node's finalizer. OK when the object is gone (404) or does
  // not carry it.
  //
  // Both trust `object`'s finalizers when it has a resourceVersion (an
  // informer's copy) and, when the server's last answer about this object is
  // remembered, the copy agrees with it on this node's finalizer. Otherwise
  // (an empty resourceVersion: only namespace and name known, e.g. for a
  // container whose object no longer targets this node; or a copy that
  // disagrees with the last answer) they GET the object first.
  absl::Status Remove(const controller::NodeContainer& object);

 private:
  absl::Status Update(const controller::NodeContainer& object, bool add);
  // Remembers the server's answer for `key` ("<ns>/<name>"): whether the
  // object carries this node's finalizer.
  void Remember(const std::string& key, bool has);
  void Forget(const std::string& key);

  ApiClient& client_;
  const std::string node_name_;
  const std::string finalizer_;

  absl::Mutex mu_;
  // "<ns>/<name>" -> whether the server's last answer listed the finalizer.
  // Forgotten when the object is gone or its deletion no longer waits for
  // this node.
  std::map<std::string, bool> answered_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_FINALIZERS_H_
