#include "controller/probe/real_action_runner.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/probe/grpc_probe.h"
#include "controller/probe/http_probe.h"
#include "controller/probe/net_dial.h"

namespace berth::controller {

RealActionRunner::RealActionRunner(runtime::Runtime& runtime, RealActionRunnerOptions options)
    : runtime_(runtime), options_(std::move(options)) {}

ActionResult RealActionRunner::Run(const Handler& handler, const ActionTarget& target,
                                   absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (handler.exec.has_value()) return RunExec(*handler.exec, target, timeout);
  if (handler.http_get.has_value()) {
    return RunHttpGet(runtime_, *handler.http_get, target, deadline, options_.user_agent);
  }
  if (handler.tcp_socket.has_value()) return RunTcp(*handler.tcp_socket, target, deadline);
  if (handler.grpc.has_value())
    return RunGrpcHealthCheck(runtime_, *handler.grpc, target, deadline);
  if (handler.sleep.has_value()) {
    absl::SleepFor(std::min(absl::Seconds(handler.sleep->seconds), timeout));
    return {true, ""};
  }
  return {false, "the handler has no action"};
}

ActionResult RealActionRunner::RunExec(const ExecAction& exec, const ActionTarget& target,
                                       absl::Duration timeout) {
  runtime::ExecOptions options;
  options.args = exec.command;
  options.timeout = timeout;
  const std::string command = absl::StrJoin(exec.command, " ");
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> session =
      runtime_.Exec(target.container_id, options);
  if (!session.ok()) {
    return {false, absl::StrCat("exec \"", command, "\": ", session.status().message())};
  }
  std::string output;
  absl::StatusOr<int> code =
      (*session)->Wait([&output](runtime::ExecStream, absl::string_view data) {
        if (output.size() < kMaxActionOutputBytes) {
          const absl::string_view part = data.substr(0, kMaxActionOutputBytes - output.size());
          output.append(part.data(), part.size());
        }
        return true;  // read on: a full pipe must not stall the process
      });
  session->reset();  // nothing it started outlives the call
  if (!code.ok()) {
    if (absl::IsDeadlineExceeded(code.status())) {
      return {false, absl::StrCat("command \"", command, "\" timed out")};
    }
    return {false, absl::StrCat("exec \"", command, "\": ", code.status().message())};
  }
  if (*code != 0 && output.empty()) {
    output = absl::StrCat("command \"", command, "\" exited with ", *code);
  }
  return {*code == 0, std::move(output)};
}

ActionResult RealActionRunner::RunTcp(const TcpSocketAction& tcp, const ActionTarget& target,
                                      absl::Time deadline) {
  absl::StatusOr<int> port = ResolvePort(tcp.port, target);
  if (!port.ok()) return {false, std::string(port.status().message())};
  absl::StatusOr<runtime::UniqueFd> fd =
      DialContainer(runtime_, target, tcp.host, *port, deadline, nullptr);
  if (!fd.ok()) return {false, std::string(fd.status().message())};
  return {true, ""};
}

}  // namespace berth::controller
