// ApiBackend: what the local API reads and drives in berthd. The daemon
// implements it over its parts (controller/berthd/api_backend.h); tests
// implement it over fakes. Every method is safe to call from any thread,
// at any time between the server's Start and Stop.
#ifndef BERTH_CONTROLLER_API_BACKEND_H_
#define BERTH_CONTROLLER_API_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/api/node_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/cgroup_stats.h"
#include "runtime/container_spec.h"
#include "runtime/exec/exec_session.h"

namespace berth::api {

struct NodeInfo {
  std::string node_name;
  std::string mode;  // "standalone" or "cluster"
  std::string runc_version;
};

// The write side's answers (Apply, Delete, Restart, Plan).
struct AppliedObject {
  std::string namespace_;
  std::string name;
  std::string file;    // in the manifests directory
  std::string result;  // "created", "configured", "unchanged"
};

struct PlanStep {
  std::string namespace_;
  std::string name;
  std::string action;  // "create", "recreate", "remove", "none"
  std::string reason;
};

struct NodePlanResult {
  std::vector<PlanStep> steps;
  std::string text;  // as `berthd --dry-run` prints it
};

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  virtual NodeInfo Node() const = 0;
  // What List, Get, Watch and Events read; nullptr when there is none
  // (those calls then fail with UNAVAILABLE).
  virtual const NodeView* View() const { return nullptr; }

  // The write side (service_write.cc); errors carry the codes the proto
  // names (kInvalidArgument, kNotFound, kFailedPrecondition).
  // Validates `manifest` and writes each object's file in the manifests
  // directory (controller/sources/manifest_writer.h); dry_run writes
  // nothing.
  virtual absl::StatusOr<std::vector<AppliedObject>> Apply(absl::string_view manifest,
                                                           absl::string_view origin,
                                                           bool dry_run) = 0;
  // Removes the object's file; returns its path.
  virtual absl::StatusOr<std::string> Delete(const std::string& namespace_,
                                             const std::string& name) = 0;
  // Has the container recreated by the reconciler (kNotFound: none here;
  // kFailedPrecondition: no source wants it any more).
  virtual absl::Status Restart(const std::string& namespace_, const std::string& name) = 0;
  // The --dry-run plan of the node's desired state, with `manifest`'s
  // objects (if any) applied to it.
  virtual absl::StatusOr<NodePlanResult> Plan(absl::string_view manifest,
                                              absl::string_view origin) = 0;

  // For Logs and Exec (service_io.cc); a backend without them says
  // kUnimplemented.
  // The runtime's state of the container of the NodeContainer
  // `namespace_`/`name` on this node (log_path included); kNotFound when
  // there is none.
  virtual absl::StatusOr<runtime::ContainerStatus> ContainerState(const std::string& namespace_,
                                                                  const std::string& name) const {
    return absl::UnimplementedError("container state: not available");
  }
  // For Stats (service_stats.cc): what the cgroup of the container with
  // the runtime id `id` says (runtime/cgroup_stats.h); kNotFound when it
  // has no cgroup (it is not running).
  virtual absl::StatusOr<runtime::CgroupStats> ContainerStats(const std::string& id) const {
    return absl::UnimplementedError("stats: not available");
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
