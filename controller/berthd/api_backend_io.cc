// DaemonApiBackend's containers for Logs, Exec and Stats: the runtime's, by
// the id the controller gives a NodeContainer; their cgroups.
#include "absl/strings/str_cat.h"
#include "controller/berthd/api_backend.h"
#include "controller/spec/node_container.h"
#include "runtime/cgroup_stats.h"

namespace berth::berthd {
namespace {

std::string IdOf(const std::string& namespace_, const std::string& name) {
  controller::ObjectMeta meta;
  meta.name = name;
  meta.namespace_ = namespace_;
  return controller::ContainerIdFor(meta);
}

absl::Status NoContainer(const std::string& namespace_, const std::string& name) {
  return absl::NotFoundError(
      absl::StrCat("NodeContainer ", namespace_, "/", name, " has no container on this node"));
}

}  // namespace

absl::StatusOr<runtime::ContainerStatus> DaemonApiBackend::ContainerState(
    const std::string& namespace_, const std::string& name) const {
  absl::StatusOr<runtime::ContainerStatus> st = parts_.runtime->State(IdOf(namespace_, name));
  if (absl::IsNotFound(st.status()) || absl::IsInvalidArgument(st.status())) {
    return NoContainer(namespace_, name);
  }
  return st;
}

absl::StatusOr<std::unique_ptr<runtime::ExecSession>> DaemonApiBackend::Exec(
    const std::string& namespace_, const std::string& name, const runtime::ExecOptions& options) {
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> session =
      parts_.runtime->Exec(IdOf(namespace_, name), options);
  if (absl::IsNotFound(session.status())) return NoContainer(namespace_, name);
  return session;
}

absl::StatusOr<runtime::CgroupStats> DaemonApiBackend::ContainerStats(const std::string& id) const {
  return runtime::ReadCgroupStats(runtime::CgroupLayout::Host(), parts_.cgroup_path(id));
}

}  // namespace berth::berthd
