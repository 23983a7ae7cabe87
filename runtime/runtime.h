// The runtime layer's contract with the controller.
#ifndef BERTH_RUNTIME_RUNTIME_H_
#define BERTH_RUNTIME_RUNTIME_H_

#include <memory>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/container_spec.h"
#include "runtime/exec/exec_session.h"

namespace berth::runtime {

// Lifecycle of containers on this node. Calls for different ids may run in
// parallel; calls for one id are serialized. Codes: kInvalidArgument for a
// bad spec (do not retry), kAlreadyExists / kNotFound / kFailedPrecondition
// for the wrong state, kUnavailable / kDeadlineExceeded / kInternal for
// failures worth a retry.
class Runtime {
 public:
  virtual ~Runtime() = default;

  // Creates the container (state created: its process exists, waiting for
  // Start). On any failure or timeout everything acquired so far is undone
  // in reverse order, so a retry starts clean.
  virtual absl::Status Create(const ContainerSpec& spec) = 0;

  // Runs the created container's program.
  virtual absl::Status Start(const std::string& id) = 0;

  // Sends the spec's stop signal, waits up to `timeout` for the exit, then
  // SIGKILLs (every process in the cgroup when the container shares the host
  // PID namespace). Returns once the exit is recorded. A container that is
  // not running is left as it is: OK.
  virtual absl::Status Stop(const std::string& id, absl::Duration timeout) = 0;

  // Kills what is left and removes runc state, mounts, cgroups and
  // directories. Idempotent: deleting an unknown id is OK.
  virtual absl::Status Delete(const std::string& id) = 0;

  // kNotFound for an unknown id.
  virtual absl::StatusOr<ContainerStatus> State(const std::string& id) = 0;

  virtual absl::StatusOr<std::vector<ContainerStatus>> List() = 0;

  // The ids List would return, without reading each container's state (a
  // resync needs only the ids). This default calls List.
  virtual absl::StatusOr<std::vector<std::string>> ListIds() {
    absl::StatusOr<std::vector<ContainerStatus>> all = List();
    if (!all.ok()) return all.status();
    std::vector<std::string> ids;
    ids.reserve(all->size());
    for (const ContainerStatus& c : *all) ids.push_back(c.id);
    return ids;
  }

  // Starts `options.args` in the running container `id` (see ExecSession):
  // kNotFound for an unknown id, kFailedPrecondition unless it is running,
  // kInvalidArgument for empty args. Takes no lock of the id: a Stop or
  // Delete meanwhile ends the process with the container. Runtimes that
  // cannot exec say kUnimplemented.
  virtual absl::StatusOr<std::unique_ptr<ExecSession>> Exec(const std::string& id,
                                                            const ExecOptions& options) {
    return absl::UnimplementedError("exec: not supported by this runtime");
  }
};

// Fault injection for tests: Create asks it at each step, after the step's
// resource was acquired; a non-OK answer fails the create there.
class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  virtual absl::Status Check(absl::string_view step) = 0;
};

// The steps of Create, in order, by their fault-injection names. The
// network steps (netns: the namespace file; cni_add: CNI ADD; etc_files:
// /etc/hostname, hosts and resolv.conf) are asked also where a container
// has no such resource (on the host network, or no CNI network).
inline constexpr const char* kCreateSteps[] = {"state_dir",     "netns",       "cni_add",
                                               "etc_files",     "bundle",      "rootfs_mount",
                                               "monitor_spawn", "runc_create", "commit"};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_RUNTIME_H_
