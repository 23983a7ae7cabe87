// berthctl restart NAME [-n NS]: has berthd recreate the container now (stop
// with its grace period, remove, create, start), as a spec change would.
// The restart is carried out by the controller right after the call
// returns; the new container's restart count starts at 0 (a new container,
// as `kubectl rollout restart` makes a new pod). Prints
// `nodecontainer/web restarted`.
#include "absl/strings/strip.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"

namespace berth::berthctl {

int RunRestart(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"namespace", 'n', true}});
  if (!args.ok()) return cli.Fail(args.status());
  if (args->positional.empty()) return cli.Fail("restart needs the name of a NodeContainer");
  int status = 0;
  for (absl::string_view name : args->positional) {
    if (!absl::ConsumePrefix(&name, "nodecontainers/"))
      absl::ConsumePrefix(&name, "nodecontainer/");
    v1::RestartRequest request;
    request.mutable_ref()->set_namespace_(args->Value("namespace", "default"));
    request.mutable_ref()->set_name(std::string(name));
    v1::RestartResponse response;
    grpc::ClientContext context;
    Cli::SetUnaryDeadline(&context);
    if (grpc::Status s = cli.Api().Restart(&context, request, &response); !s.ok()) {
      status = cli.Fail(s);
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE) return status;
      continue;
    }
    cli.out() << "nodecontainer/" << name << " restarted\n";
  }
  return status;
}

}  // namespace berth::berthctl
