// The write side of berth.v1: Apply, Delete and Restart (admin), and Plan
// (read), over the backend.
#include "controller/api/server.h"
#include "controller/api/service.h"

namespace berth::api {
namespace {

// absl's code, as the gRPC code of the same number, and the message.
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

grpc::Status RequireRef(const v1::ObjectRef& ref) {
  if (ref.name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a name is required");
  }
  return grpc::Status::OK;
}

std::string NamespaceOf(const v1::ObjectRef& ref) {
  return ref.namespace_().empty() ? "default" : ref.namespace_();
}

}  // namespace

grpc::Status BerthService::Apply(grpc::ServerContext* context, const v1::ApplyRequest* request,
                                 v1::ApplyResponse* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kAdmin); !s.ok()) return s;
  const std::string origin = request->origin().empty() ? "-" : request->origin();
  absl::StatusOr<std::vector<AppliedObject>> applied =
      backend_->Apply(request->manifest(), origin, request->dry_run());
  if (!applied.ok()) return ToGrpc(applied.status());
  for (const AppliedObject& a : *applied) {
    v1::AppliedObject* out = response->add_objects();
    out->mutable_object()->set_namespace_(a.namespace_);
    out->mutable_object()->set_name(a.name);
    out->set_file(a.file);
    out->set_result(a.result);
  }
  return grpc::Status::OK;
}

grpc::Status BerthService::Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                                  v1::DeleteResponse* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kAdmin); !s.ok()) return s;
  if (grpc::Status s = RequireRef(request->ref()); !s.ok()) return s;
  absl::StatusOr<std::string> file =
      backend_->Delete(NamespaceOf(request->ref()), request->ref().name());
  if (!file.ok()) return ToGrpc(file.status());
  response->set_file(*file);
  return grpc::Status::OK;
}

grpc::Status BerthService::Restart(grpc::ServerContext* context, const v1::RestartRequest* request,
                                   v1::RestartResponse*) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kAdmin); !s.ok()) return s;
  if (grpc::Status s = RequireRef(request->ref()); !s.ok()) return s;
  return ToGrpc(backend_->Restart(NamespaceOf(request->ref()), request->ref().name()));
}

grpc::Status BerthService::Plan(grpc::ServerContext* context, const v1::PlanRequest* request,
                                v1::PlanResponse* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  const std::string origin = request->origin().empty() ? "-" : request->origin();
  absl::StatusOr<NodePlanResult> plan = backend_->Plan(request->manifest(), origin);
  if (!plan.ok()) return ToGrpc(plan.status());
  for (const PlanStep& step : plan->steps) {
    v1::PlannedAction* out = response->add_actions();
    out->mutable_object()->set_namespace_(step.namespace_);
    out->mutable_object()->set_name(step.name);
    out->set_action(step.action);
    out->set_reason(step.reason);
  }
  response->set_text(plan->text);
  return grpc::Status::OK;
}

}  // namespace berth::api
