// ApiBackend: what the local API reads and drives in berthd. The daemon
// implements it over its parts (controller/berthd/api_backend.h); tests
// implement it over fakes. Every method is safe to call from any thread,
// at any time between the server's Start and Stop.
#ifndef BERTH_CONTROLLER_API_BACKEND_H_
#define BERTH_CONTROLLER_API_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/container_spec.h"
#include "runtime/exec/exec_session.h"

namespace berth::api {

struct NodeInfo {
  std::string node_name;
  std::string mode;  // "standalone" or "cluster"
  std::string runc_version;
};

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  virtual NodeInfo Node() const = 0;

  // For Logs and Exec (service_io.cc); a backend without them says
  // kUnimplemented.
  // The runtime's state of the container of the NodeContainer
  // `namespace_`/`name` on this node (log_path included); kNotFound when
  // there is none.
  virtual absl::StatusOr<runtime::ContainerStatus> ContainerState(const std::string& namespace_,
                                                                  const std::string& name) const {
    return absl::UnimplementedError("container state: not available");
  }
  // Starts a command in that container (runtime::Runtime::Exec): kNotFound,
  // kFailedPrecondition when it is not running, kInvalidArgument.
  virtual absl::StatusOr<std::unique_ptr<runtime::ExecSession>> Exec(
      const std::string& namespace_, const std::string& name, const runtime::ExecOptions& options) {
    return absl::UnimplementedError("exec: not available");
  }
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_BACKEND_H_
