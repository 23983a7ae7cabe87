// BerthService: the berth.v1.Berth service (proto/berth/v1/berth.proto)
// over an ApiBackend. Each handler first checks the caller's access
// (ApiServer::Authorize), then answers from the backend.
//
// The handlers are defined in files by concern: service.cc (Version),
// service_io.cc (Logs, Exec).
#ifndef BERTH_CONTROLLER_API_SERVICE_H_
#define BERTH_CONTROLLER_API_SERVICE_H_

#include "berth/v1/berth.grpc.pb.h"
#include "controller/api/backend.h"

namespace berth::api {

class BerthService final : public berth::v1::Berth::Service {
 public:
  explicit BerthService(ApiBackend* backend) : backend_(backend) {}

  grpc::Status Version(grpc::ServerContext* context, const v1::VersionRequest* request,
                       v1::VersionResponse* response) override;

  // service_io.cc: a container's output and commands run in it.
  grpc::Status Logs(grpc::ServerContext* context, const v1::LogsRequest* request,
                    grpc::ServerWriter<v1::LogChunk>* writer) override;
  grpc::Status Exec(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* stream) override;

 private:
  ApiBackend* const backend_;
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_SERVICE_H_
