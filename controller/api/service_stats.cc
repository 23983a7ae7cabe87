// BerthService's Stats: the containers the view lists, their cgroups read
// through the backend (runtime/cgroup_stats.h); nothing runs runc.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/api/server.h"
#include "controller/api/service.h"

namespace berth::api {
namespace {

bool IsRunning(const v1::Container& c) {
  return c.status().phase() == "Running" && c.status().pid() > 0;
}

void Fill(const v1::Container& c, const runtime::CgroupStats& st, v1::ContainerStats* out) {
  out->mutable_object()->set_namespace_(c.namespace_());
  out->mutable_object()->set_name(c.name());
  const int64_t now_ns = absl::ToUnixNanos(absl::Now());
  out->mutable_time()->set_seconds(now_ns / 1000000000);
  out->mutable_time()->set_nanos(static_cast<int32_t>(now_ns % 1000000000));
  if (st.cpu_usage_seconds) {
    out->set_cpu_usage_nanoseconds(static_cast<uint64_t>(*st.cpu_usage_seconds * 1e9));
  }
  out->set_memory_working_set_bytes(st.memory_working_set_bytes.value_or(0));
  out->set_memory_usage_bytes(st.memory_usage_bytes.value_or(0));
  out->set_pids(st.pids.value_or(0));
}

}  // namespace

grpc::Status BerthService::Stats(grpc::ServerContext* context, const v1::StatsRequest* request,
                                 v1::StatsResponse* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  const NodeView* view = backend_->View();
  if (view == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no view of the node");
  const v1::ObjectRef& ref = request->ref();
  if (!ref.name().empty()) {
    const std::string ns = ref.namespace_().empty() ? "default" : ref.namespace_();
    absl::StatusOr<v1::Container> c = view->Get(ns, ref.name());
    if (!c.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(c.status().code()),
                          std::string(c.status().message()));
    }
    absl::StatusOr<runtime::CgroupStats> st =
        IsRunning(*c) ? backend_->ContainerStats(c->id()) : absl::NotFoundError("no cgroup");
    if (absl::IsNotFound(st.status())) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("nodecontainer \"", ref.name(), "\" is not running (",
                                       c->status().phase(), ")"));
    }
    if (!st.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(st.status().code()),
                          std::string(st.status().message()));
    }
    Fill(*c, *st, response->add_items());
    return grpc::Status::OK;
  }
  for (const ContainerPtr& c : view->List().items) {
    if (!ref.namespace_().empty() && c->namespace_() != ref.namespace_()) continue;
    if (!IsRunning(*c)) continue;
    absl::StatusOr<runtime::CgroupStats> st = backend_->ContainerStats(c->id());
    if (absl::IsNotFound(st.status())) continue;  // it stopped meanwhile
    if (!st.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(st.status().code()),
                          std::string(st.status().message()));
    }
    Fill(*c, *st, response->add_items());
  }
  return grpc::Status::OK;
}

}  // namespace berth::api
