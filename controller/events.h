// Events about NodeContainers, as kubelet records them about pods: what
// happened to the object's container on this node, for `kubectl describe`
// in cluster mode and for the log everywhere.
#ifndef BERTH_CONTROLLER_EVENTS_H_
#define BERTH_CONTROLLER_EVENTS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "controller/spec/node_container.h"
#include "spdlog/spdlog.h"

namespace berth::controller {

enum class EventType { kNormal, kWarning };

class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  // `reason` is a short UpperCamelCase word (Created, Started, Killing,
  // BackOff, Failed, Pulling, Pulled); `message` a sentence for people.
  // Never blocks on I/O for long: recorders that talk to an API queue the
  // event and drop it when the queue is full.
  virtual void Record(const NodeContainer& object, EventType type, absl::string_view reason,
                      absl::string_view message) = 0;
};

// Writes each event to the log: warnings as warnings, normal events at
// debug level (the reconciler logs what it does itself).
class LogEventRecorder : public EventRecorder {
 public:
  void Record(const NodeContainer& object, EventType type, absl::string_view reason,
              absl::string_view message) override {
    const std::string id = ContainerIdFor(object.metadata) + RealNameNote(object.metadata);
    if (type == EventType::kWarning) {
      spdlog::warn("{}: {}: {}", id, std::string(reason), std::string(message));
    } else {
      spdlog::debug("{}: {}: {}", id, std::string(reason), std::string(message));
    }
  }
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_EVENTS_H_
