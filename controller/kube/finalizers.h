// This node's finalizer on NodeContainer objects: added before the node
// creates the object's container, removed once that container is stopped and
// deleted, so that deleting an object waits for every node that ran it.
//
// Writes are JSON merge patches of metadata.finalizers carrying the full new
// list and metadata.resourceVersion as a precondition; a 409 Conflict
// re-reads the object and tries again (bounded).
//
// Thread-safe (no state besides the client); calls block on the API.
#ifndef BERTH_CONTROLLER_KUBE_FINALIZERS_H_
#define BERTH_CONTROLLER_KUBE_FINALIZERS_H_

#include <string>

#include "absl/status/status.h"
#include "controller/kube/api_client.h"
#include "controller/node_container.h"
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
  // `object`'s finalizers and resourceVersion and re-reads on a conflict.
  // kNotFound when the object is gone; kFailedPrecondition when it is being
  // deleted and lacks the finalizer (the API refuses new finalizers then);
  // kUnavailable when the API cannot be reached; kAborted after too many
  // conflicts.
  absl::Status Ensure(const controller::NodeContainer& object);

  // Removes this node's finalizer. OK when the object is gone (404) or does
  // not carry it.
  //
  // Both trust `object`'s finalizers when it has a resourceVersion (an
  // informer's copy); with an empty resourceVersion (only namespace and name
  // known, e.g. for a container whose object no longer targets this node)
  // they GET the object first.
  absl::Status Remove(const controller::NodeContainer& object);

 private:
  absl::Status Update(const controller::NodeContainer& object, bool add);

  ApiClient& client_;
  const std::string node_name_;
  const std::string finalizer_;
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_FINALIZERS_H_
