#include "controller/berthctl/cli.h"

#include <chrono>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace berth::berthctl {

v1::Berth::Stub& Cli::Api() {
  if (stub_ == nullptr) {
    // No cap on what berthd sends back: gRPC's default of 4 MB would fail
    // `get` of a node with ~8,600 containers (one List answers all of them).
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    channel_ =
        grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::Berth::NewStub(channel_);
  }
  return *stub_;
}

void Cli::SetUnaryDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

const char* ReasonOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND: return "NotFound";
    case grpc::StatusCode::INVALID_ARGUMENT: return "Invalid";
    case grpc::StatusCode::PERMISSION_DENIED: return "Forbidden";
    case grpc::StatusCode::UNAUTHENTICATED: return "Unauthorized";
    case grpc::StatusCode::ALREADY_EXISTS: return "AlreadyExists";
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED: return "Conflict";
    case grpc::StatusCode::OUT_OF_RANGE: return "Expired";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "Timeout";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "TooManyRequests";
    case grpc::StatusCode::UNIMPLEMENTED: return "MethodNotAllowed";
    case grpc::StatusCode::UNAVAILABLE: return "ServiceUnavailable";
    default: return "InternalError";
  }
}

int Cli::Fail(const grpc::Status& status) {
  // UNAVAILABLE from the channel itself: nothing answered on the socket.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    err_ << "error: cannot reach berthd at " << socket_ << ": " << status.error_message()
         << " (is berthd running? --socket or $BERTH_SOCKET names another socket)\n";
    return 1;
  }
  err_ << "Error from server (" << ReasonOf(status.error_code()) << "): " << status.error_message()
       << "\n";
  return 1;
}

int Cli::Fail(const absl::Status& status) { return Fail(std::string(status.message())); }

int Cli::Fail(const std::string& message) {
  err_ << "error: " << message << "\n";
  return 1;
}

}  // namespace berth::berthctl
