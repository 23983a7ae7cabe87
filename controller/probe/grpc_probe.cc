#include "controller/probe/grpc_probe.h"

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "controller/probe/net_dial.h"

namespace berth::controller {
namespace {

constexpr char kMethod[] = "/grpc.health.v1.Health/Check";

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool ReadVarint(const std::string& in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// HealthCheckResponse.status (0 when absent, UNKNOWN); -1 when malformed.
int64_t ServingStatus(const std::string& msg) {
  int64_t status = 0;
  size_t pos = 0;
  while (pos < msg.size()) {
    uint64_t key = 0;
    if (!ReadVarint(msg, &pos, &key)) return -1;
    const uint64_t field = key >> 3;
    const uint64_t wire = key & 7;
    uint64_t v = 0;
    if (wire == 0) {
      if (!ReadVarint(msg, &pos, &v)) return -1;
      if (field == 1) status = static_cast<int64_t>(v);
    } else if (wire == 2) {
      if (!ReadVarint(msg, &pos, &v) || v > msg.size() - pos) return -1;
      pos += v;
    } else if (wire == 1 || wire == 5) {
      pos += wire == 1 ? 8 : 4;
    } else {
      return -1;
    }
  }
  return pos == msg.size() ? status : -1;
}

const char* StatusName(int64_t s) {
  switch (s) {
    case 0: return "UNKNOWN";
    case 1: return "SERVING";
    case 2: return "NOT_SERVING";
    case 3: return "SERVICE_UNKNOWN";
    default: return "?";
  }
}

}  // namespace

ActionResult RunGrpcHealthCheck(runtime::Runtime& runtime, const GrpcAction& action,
                                const ActionTarget& target, absl::Time deadline) {
  absl::StatusOr<int> port = ResolvePort(PortRef{action.port, ""}, target);
  if (!port.ok()) return {false, std::string(port.status().message())};
  std::string peer;
  absl::StatusOr<runtime::UniqueFd> fd = DialContainer(runtime, target, "", *port, deadline, &peer);
  if (!fd.ok()) {
    return {false, absl::StrCat("timeout: failed to connect service \"", peer,
                                "\" within the deadline: ", fd.status().message())};
  }
  // The channel owns the socket from here.
  std::shared_ptr<grpc::Channel> channel = grpc::CreateInsecureChannelFromFd(peer, fd->Release());
  grpc::GenericStub stub(channel);
  std::string request;
  if (!action.service.empty()) {
    request.push_back(0x0a);
    AppendVarint(action.service.size(), &request);
    request += action.service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  grpc::ByteBuffer resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  ctx.AddMetadata("user-agent", "berth-probe");
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, kMethod, grpc::StubOptions(), &req, &resp, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();  // the call ends by the context's deadline
  if (!status.ok()) {
    switch (status.error_code()) {
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return {false, "timeout: health rpc did not complete within the probe's timeout"};
      case grpc::StatusCode::UNIMPLEMENTED:
        return {false, absl::StrCat("error: this server does not implement the grpc health "
                                    "protocol (grpc.health.v1.Health): ",
                                    status.error_message())};
      default:
        return {false, absl::StrCat("error: health rpc probe failed: ", status.error_message())};
    }
  }
  std::vector<grpc::Slice> slices;
  std::string body;
  if (resp.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices)
      body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  const int64_t serving = ServingStatus(body);
  if (serving == 1) return {true, ""};
  return {false, absl::StrCat("service unhealthy (responded with \"", StatusName(serving), "\")")};
}

}  // namespace berth::controller
