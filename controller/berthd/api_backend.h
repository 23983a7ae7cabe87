// DaemonApiBackend: the local API's view of berthd's parts (api/backend.h).
// Built by Daemon::Start after the controller runs; the parts it points to
// outlive the API server.
#ifndef BERTH_CONTROLLER_BERTHD_API_BACKEND_H_
#define BERTH_CONTROLLER_BERTHD_API_BACKEND_H_

#include <functional>
#include <string>

#include "controller/api/backend.h"
#include "controller/berthd/config.h"
#include "controller/kube/cluster.h"
#include "controller/reconciler.h"
#include "controller/sources/channel_source.h"
#include "controller/sources/manifest_writer.h"
#include "controller/sources/source.h"
#include "runtime/runtime.h"

namespace berth::berthd {

// What the backend reads and drives; every pointer outlives it.
struct DaemonParts {
  const Config* config = nullptr;
  // The write side (api_backend_write.cc). manifest_writer: null without a
  // manifests directory; cluster: null in standalone mode.
  controller::ManifestWriter* manifest_writer = nullptr;
  const controller::Source* sources = nullptr;
  kube::Cluster* cluster = nullptr;
  runtime::Runtime* runtime = nullptr;
  controller::Reconciler* reconciler = nullptr;
  // Where a restarted id is pushed to reach the controller's queue.
  controller::ChannelSource* restarts = nullptr;
  const api::NodeView* view = nullptr;
  // The cgroup path of a container id (RuncRuntime::CgroupPathFor), for
  // Stats.
  std::function<std::string(const std::string&)> cgroup_path;
};

class DaemonApiBackend : public api::ApiBackend {
 public:
  explicit DaemonApiBackend(DaemonParts parts);

  api::NodeInfo Node() const override;
  const api::NodeView* View() const override { return parts_.view; }

  // api_backend_write.cc
  absl::StatusOr<std::vector<api::AppliedObject>> Apply(absl::string_view manifest,
                                                        absl::string_view origin,
                                                        bool dry_run) override;
  absl::StatusOr<std::string> Delete(const std::string& namespace_,
                                     const std::string& name) override;
  absl::Status Restart(const std::string& namespace_, const std::string& name) override;
  absl::StatusOr<api::NodePlanResult> Plan(absl::string_view manifest,
                                           absl::string_view origin) override;

  // api_backend_io.cc: the container is found by its id (ContainerIdFor).
  absl::StatusOr<runtime::ContainerStatus> ContainerState(const std::string& namespace_,
                                                          const std::string& name) const override;
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> Exec(
      const std::string& namespace_, const std::string& name,
      const runtime::ExecOptions& options) override;
  absl::StatusOr<runtime::CgroupStats> ContainerStats(const std::string& id) const override;

 private:
  const DaemonParts parts_;
  const std::string runc_version_;  // asked once, at construction
};

// "1.1.5+ds1" from `<runc> --version`'s first line; "unknown" when it
// cannot be run.
std::string RuncVersion(const std::string& runc_binary);

}  // namespace berth::berthd

#endif  // BERTH_CONTROLLER_BERTHD_API_BACKEND_H_
