#include "controller/api/service.h"

#include "controller/api/server.h"
#include "controller/api/version.h"

namespace berth::api {

grpc::Status BerthService::Version(grpc::ServerContext* context, const v1::VersionRequest*,
                                   v1::VersionResponse* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  NodeInfo node = backend_->Node();
  response->set_version(kBerthVersion);
  response->set_api_version("berth.v1");
  response->set_git_commit(kBerthGitCommit);
  response->set_runc_version(node.runc_version);
  response->set_node_name(node.node_name);
  response->set_mode(node.mode);
  return grpc::Status::OK;
}

}  // namespace berth::api
