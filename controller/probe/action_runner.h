// Runs one Handler of a probe or a lifecycle hook (controller/spec/
// node_container.h) against one container: exec inside it, an HTTP GET, a
// TCP connect, a gRPC health check, or a sleep. The interface the prober
// and the hooks share; the real runner and fakes for tests implement it.
#ifndef BERTH_CONTROLLER_PROBE_ACTION_RUNNER_H_
#define BERTH_CONTROLLER_PROBE_ACTION_RUNNER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// Where a handler reaches the container.
struct ActionTarget {
  std::string container_id;  // the runtime's id (exec runs there)
  // The container's address on its network; empty for a host-network
  // container, reached at the node's loopback address.
  std::string ip;
  std::vector<ContainerPort> ports;  // resolves a PortRef by name
};

struct ActionResult {
  bool success = false;
  // For events and logs (kubelet's probe output): what the handler said,
  // or why it failed ("timeout after 1s", "connection refused", "HTTP
  // probe failed with statuscode: 500"); at most kMaxActionOutputBytes.
  std::string output;
};

inline constexpr size_t kMaxActionOutputBytes = 10 * 1024;

class ActionRunner {
 public:
  virtual ~ActionRunner() = default;
  // Runs `handler` and waits for its outcome, at most `timeout` (a sleep
  // handler takes its own time, capped by `timeout` too). Nothing it starts
  // outlives the call: an exec'd process still running at the timeout is
  // killed with everything it started. Thread-safe; blocks the caller.
  virtual ActionResult Run(const Handler& handler, const ActionTarget& target,
                           absl::Duration timeout) = 0;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_ACTION_RUNNER_H_
