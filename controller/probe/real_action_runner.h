// The ActionRunner berthd uses: runs a probe's or a hook's handler against
// a real container.
//
//  * exec: runtime::Runtime::Exec, not interactive (stdin /dev/null, no
//    terminal), with the call's timeout as the session's: at the timeout
//    the exec'd process and everything it started are killed (ExecSession),
//    and the session is over before Run returns. Success: exit code 0. The
//    output is stdout and stderr as they come, at most
//    kMaxActionOutputBytes (the rest is read and dropped, so the process
//    never blocks on a full pipe).
//  * httpGet: RunHttpGet (http_probe.h); tcpSocket: a connect; grpc:
//    RunGrpcHealthCheck (grpc_probe.h); each reaching the container as
//    DialContainer (net_dial.h) says: never through a port on the node.
//  * sleep: waits min(seconds, timeout), then succeeds.
//
// Thread-safe: any number of Runs at once, for one container or many; each
// blocks its caller only.
#ifndef BERTH_CONTROLLER_PROBE_REAL_ACTION_RUNNER_H_
#define BERTH_CONTROLLER_PROBE_REAL_ACTION_RUNNER_H_

#include <string>

#include "controller/probe/action_runner.h"
#include "runtime/runtime.h"

namespace berth::controller {

struct RealActionRunnerOptions {
  // The User-Agent of HTTP probes (kubelet's is kube-probe/<version>).
  std::string user_agent = "berth-probe";
};

class RealActionRunner : public ActionRunner {
 public:
  // `runtime` must outlive the runner.
  RealActionRunner(runtime::Runtime& runtime, RealActionRunnerOptions options);

  ActionResult Run(const Handler& handler, const ActionTarget& target,
                   absl::Duration timeout) override;

 private:
  ActionResult RunExec(const ExecAction& exec, const ActionTarget& target, absl::Duration timeout);
  ActionResult RunTcp(const TcpSocketAction& tcp, const ActionTarget& target, absl::Time deadline);

  runtime::Runtime& runtime_;
  const RealActionRunnerOptions options_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_REAL_ACTION_RUNNER_H_
