// BerthService: the berth.v1.Berth service (proto/berth/v1/berth.proto)
// over an ApiBackend. Each handler first checks the caller's access
// (ApiServer::Authorize), then answers from the backend.
//
// The handlers are defined in files by concern: service.cc (Version),
// service_read.cc (List, Get, Watch, Events), service_write.cc (Apply, Delete,
// Restart, Plan), service_io.cc (Logs, Exec), service_stats.cc (Stats).
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

  // service_read.cc. Watch and Events streams end when the call is
  // cancelled (the client goes, the server stops), with OUT_OF_RANGE when
  // the reader falls behind what the view keeps (node_view.h).
  grpc::Status List(grpc::ServerContext* context, const v1::ListRequest* request,
                    v1::ListResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::GetRequest* request,
                   v1::Container* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::WatchEvent>* writer) override;
  grpc::Status Events(grpc::ServerContext* context, const v1::EventsRequest* request,
                      grpc::ServerWriter<v1::Event>* writer) override;

  grpc::Status Apply(grpc::ServerContext* context, const v1::ApplyRequest* request,
                     v1::ApplyResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;
  grpc::Status Restart(grpc::ServerContext* context, const v1::RestartRequest* request,
                       v1::RestartResponse* response) override;
  grpc::Status Plan(grpc::ServerContext* context, const v1::PlanRequest* request,
                    v1::PlanResponse* response) override;

  // service_io.cc: a container's output and commands run in it.
  grpc::Status Logs(grpc::ServerContext* context, const v1::LogsRequest* request,
                    grpc::ServerWriter<v1::LogChunk>* writer) override;
  grpc::Status Exec(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* stream) override;

  // service_stats.cc: the cgroups of running containers (read access).
  // With a name: that container (NOT_FOUND when unknown,
  // FAILED_PRECONDITION when not running); without: every running one, in
  // the namespace when one is given.
  grpc::Status Stats(grpc::ServerContext* context, const v1::StatsRequest* request,
                     v1::StatsResponse* response) override;

 private:
  ApiBackend* const backend_;
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_SERVICE_H_
