// A source of desired NodeContainers: a manifests directory, the Kubernetes
// API, or several of them together.
#ifndef BERTH_CONTROLLER_SOURCE_H_
#define BERTH_CONTROLLER_SOURCE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/node_container.h"
#include "runtime/container_spec.h"

namespace berth::controller {

class Source {
 public:
  virtual ~Source() = default;

  // Short name for logs and the berth.dev/source annotation: "manifests", "api".
  virtual std::string Name() const = 0;

  // The ids (ContainerIdFor) of every object the source holds now, including
  // objects being deleted (metadata.deletion_timestamp set).
  virtual std::vector<std::string> Ids() const = 0;

  // The object with this id, if the source holds it. An object being deleted
  // is returned with deletion_timestamp set: its container is to be stopped
  // and deleted, then the object released (its finalizer removed).
  virtual std::optional<NodeContainer> Get(const std::string& id) const = 0;

  // Whether the source knows enough to say that a container it does not
  // hold (and that was made from this source) is no longer wanted. False,
  // for example, before the first list from the API completed, or while the
  // manifest file the container came from is broken.
  virtual bool MayRemove(const runtime::ContainerStatus& container) const = 0;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCE_H_
