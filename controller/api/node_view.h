// NodeView: what the local API's read side answers from (List, Get, Watch,
// Events), kept in memory by berthd so that reads never touch runc or files.
//
// It is fed by the daemon, on the reconciler's threads, through three
// doors:
//  * StatusSink (Report/Remove): the latest ContainerReport per container,
//    a sink of the daemon's FanOutStatusSink.
//  * EventRecorder (Record): events, tee'd with the daemon's recorders.
//  * ObserveDesired(id, object): the desired object the reconciler reads
//    for `id` (labels, source, spec), called by the daemon's Desired().
//
// What is listed: every container with a report (the reconciler reports
// each container it runs or means to run), in id order. Its labels, source
// and spec come from its desired object; when the reconciler found none (or
// the object is being deleted) while the report is still there, the
// container is on its way out and shows phase "Removing" (labels and source
// as last seen, spec_yaml empty) until Remove. (A container no source wants
// that is kept because its source cannot say so now, a broken manifest
// after a restart, shows "Removing" too.) At start the daemon seeds a report
// per container the runtime found (ReportOfRuntime), so that one no longer
// wanted shows as Removing while it is stopped; the reconciler's own report
// replaces the seed of every other. created_at is the creation time of the
// first container seen for the id in this view (restarts keep it; a spec
// change, a restart count that goes down (berthctl restart) or a berthd
// restart starts it afresh from the container then running).
//
// Revisions: every change of a listed container (added, modified, deleted;
// events do not count) takes the next revision (1, 2, ...). The last
// `history` changes are kept with the container before and after; a reader
// asks for the changes after a revision (ChangesAfter). A revision older
// than the kept ones is OUT_OF_RANGE ("too old resource version", the
// apiserver's 410 Gone): the reader lists again and continues from the
// list's revision. Watchers read the shared history with their own cursor,
// so no writer ever waits for a reader and there is no per-watcher buffer:
// a watcher that falls more than `history` changes behind is ended with
// OUT_OF_RANGE, exactly as a resume from a revision no longer kept.
//
// Events: the last `events_kept` events of all containers (each with its
// own sequence number, Event.revision) and the last `events_per_container`
// of each listed container (Get's Container.events, oldest first). A
// follower that falls more than `events_kept` behind is OUT_OF_RANGE too.
//
// Thread-safe. Every method takes one mutex briefly; the messages returned
// are shared, immutable snapshots (building them is done by the writer,
// once per change), so List of 1,000 containers copies 1,000 pointers under
// the lock.
#ifndef BERTH_CONTROLLER_API_NODE_VIEW_H_
#define BERTH_CONTROLLER_API_NODE_VIEW_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/v1/berth.pb.h"
#include "controller/events.h"
#include "controller/queue/clock.h"
#include "controller/status.h"
#include "runtime/container_spec.h"

namespace berth::api {

struct NodeViewOptions {
  size_t history = 4096;             // changes kept for Watch
  size_t events_kept = 2048;         // events of all containers
  size_t events_per_container = 30;  // for Get
};

using ContainerPtr = std::shared_ptr<const v1::Container>;
using EventPtr = std::shared_ptr<const v1::Event>;

// One change of a listed container.
struct ViewChange {
  uint64_t revision = 0;
  v1::WatchEvent::Type type = v1::WatchEvent::TYPE_UNSPECIFIED;
  ContainerPtr before;  // null for ADDED
  ContainerPtr after;   // null for DELETED
};

struct ViewSnapshot {
  std::vector<ContainerPtr> items;  // in id order
  uint64_t revision = 0;            // the last change these include
};

class NodeView : public controller::StatusSink, public controller::EventRecorder {
 public:
  // `clock` stamps events and must outlive the view.
  explicit NodeView(controller::Clock& clock, NodeViewOptions options = {});

  // StatusSink.
  void Report(const controller::ContainerReport& report) override;
  void Remove(const std::string& id) override;
  // EventRecorder.
  void Record(const controller::NodeContainer& object, controller::EventType type,
              absl::string_view reason, absl::string_view message) override;
  // The desired object for `id` as the reconciler just read it (nullopt:
  // no source holds it).
  void ObserveDesired(const std::string& id,
                      const std::optional<controller::NodeContainer>& object);

  // Every listed container, and the revision of the last change.
  ViewSnapshot List() const;
  // One listed container with its recent events (oldest first), or
  // NOT_FOUND `nodecontainers "<name>" not found`. An empty namespace is
  // "default".
  absl::StatusOr<v1::Container> Get(const std::string& namespace_, const std::string& name) const;

  // The changes after `revision`, at most `max`; waits up to `timeout` for
  // one when there is none yet (then returns none). OUT_OF_RANGE when
  // changes after `revision` are no longer all kept; INVALID_ARGUMENT for a
  // revision beyond the current one.
  absl::StatusOr<std::vector<ViewChange>> ChangesAfter(uint64_t revision, absl::Duration timeout,
                                                       size_t max = 256) const;
  uint64_t revision() const;

  // Kept events (of one container, when `id` is not empty), oldest first,
  // and the sequence number of the last event recorded.
  std::vector<EventPtr> Events(const std::string& id, uint64_t* last_sequence) const;
  // The events recorded after sequence number `sequence` (all containers'),
  // waiting as ChangesAfter does; OUT_OF_RANGE when some are no longer kept.
  absl::StatusOr<std::vector<EventPtr>> EventsAfter(uint64_t sequence, absl::Duration timeout,
                                                    size_t max = 256) const;

 private:
  struct Entry {
    std::optional<controller::ContainerReport> report;
    // From the desired object; kept as last seen after it goes.
    bool desired = false;   // held by a source and not being deleted
    bool observed = false;  // ObserveDesired has been called
    std::map<std::string, std::string> labels;
    v1::Source source;
    std::string spec_yaml;
    std::string spec_image;
    std::vector<controller::ContainerPort> ports;
    // spec_yaml, labels and source are of an object (ObserveDesired): an
    // object that shows the same is skipped. No copy of the object is kept
    // (it was 1.6 kB a container).
    bool has_object = false;
    absl::Time created_at = absl::InfinitePast();
    // Oldest first; a vector, as an empty deque takes 600 bytes.
    std::vector<EventPtr> events;
    ContainerPtr shown;  // what List shows; null when not listed
  };

  // Rebuilds the entry's message and records a change when it differs;
  // drops the entry when it is neither listed nor desired.
  void Publish(const std::string& id, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ContainerPtr Build(const std::string& id, const Entry& entry) const;

  controller::Clock& clock_;
  const NodeViewOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<ViewChange> history_ ABSL_GUARDED_BY(mu_);
  uint64_t event_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<EventPtr> events_ ABSL_GUARDED_BY(mu_);
};

// A report from the runtime's record alone (annotations and state), until
// the reconciler reports: phase Pending (created), Running (running or
// paused), Succeeded (stopped with 0) or Failed.
controller::ContainerReport ReportOfRuntime(const runtime::ContainerStatus& c);

// The source of an object as the API shows it: "path:line" of a manifest
// (origin "manifests") as kind "file", an API object as kind "api" with
// its uid and resourceVersion.
v1::Source SourceOf(const controller::NodeContainer& object);

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_NODE_VIEW_H_
