// A source of desired NodeContainers: a manifests directory, the Kubernetes
// API, or several of them together.
//
// A source is read (Ids, Get, MayRemove) and watched: Watch hands it a
// Handler to which it pushes the ids whose desired state may have changed,
// as controller-runtime's sources push keys into the queue their controller
// owns (Controller::Watch). Pushes are level-triggered: the handler reads the
// source again (Get) to learn what changed.
#ifndef BERTH_CONTROLLER_SOURCES_SOURCE_H_
#define BERTH_CONTROLLER_SOURCES_SOURCE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/spec/node_container.h"
#include "runtime/container_spec.h"

namespace berth::controller {

class Source {
 public:
  // Where a watched source pushes. Called from the source's own threads
  // (informers, a directory watcher, a resync), concurrently: implementations
  // must be thread-safe and must not call back into the source's Stop.
  class Handler {
   public:
    virtual ~Handler() = default;
    // The desired state of `id` may have changed (added, changed, removed).
    virtual void OnChange(const std::string& id) = 0;
    // What the source knows changed as a whole (its first full list, or the
    // answer of MayRemove for containers it does not hold): every container
    // is to be looked at again.
    virtual void OnResync() = 0;
  };

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

  // Registers where changes are pushed. Called at most once, before the
  // source is started (Start of the concrete source); `handler` must outlive
  // the source's Stop. A source that never changes keeps this default.
  virtual void Watch(Handler* handler) { (void)handler; }

  // Re-reads what the source cannot watch (the periodic resync and SIGHUP)
  // and pushes what changed. The default does nothing (a source whose
  // watches see everything).
  virtual void Resync() {}
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCES_SOURCE_H_
