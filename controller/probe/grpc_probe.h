// The grpc handler: grpc.health.v1.Health/Check with the action's service,
// over a socket DialContainer opened (so it reaches a container in its own
// network namespace), without TLS (as kubelet). SERVING is success;
// anything else, an error or the deadline is a failure with kubelet's
// wording. No health.proto is shipped with Debian's gRPC, so the request
// (HealthCheckRequest{string service = 1}) and the response
// (HealthCheckResponse{ServingStatus status = 1}) are encoded by hand and
// sent through grpc::GenericStub.
#ifndef BERTH_CONTROLLER_PROBE_GRPC_PROBE_H_
#define BERTH_CONTROLLER_PROBE_GRPC_PROBE_H_

#include "absl/time/time.h"
#include "controller/probe/action_runner.h"
#include "runtime/runtime.h"

namespace berth::controller {

ActionResult RunGrpcHealthCheck(runtime::Runtime& runtime, const GrpcAction& action,
                                const ActionTarget& target, absl::Time deadline);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_GRPC_PROBE_H_
