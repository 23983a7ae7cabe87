// berthctl version [--client] [-o json]: this berthctl's release and
// berthd's, as `kubectl version` prints them.
#include "controller/api/version.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "nlohmann/json.hpp"

namespace berth::berthctl {

int RunVersion(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"client", 0, false}, {"output", 'o', true}});
  if (!args.ok()) return cli.Fail(args.status());
  const std::string output = args->Value("output");
  if (!output.empty() && output != "json") {
    return cli.Fail("--output must be 'json' (or absent), not '" + output + "'");
  }
  nlohmann::json json = {
      {"clientVersion", {{"version", api::kBerthVersion}, {"gitCommit", api::kBerthGitCommit}}}};
  v1::VersionResponse server;
  if (!args->Has("client")) {
    grpc::ClientContext context;
    Cli::SetUnaryDeadline(&context);
    grpc::Status s = cli.Api().Version(&context, v1::VersionRequest(), &server);
    if (!s.ok()) {
      if (output.empty()) {
        cli.out() << "Client Version: " << api::kBerthVersion << "\n";
      }
      return cli.Fail(s);
    }
    json["serverVersion"] = {
        {"version", server.version()},        {"gitCommit", server.git_commit()},
        {"apiVersion", server.api_version()}, {"runcVersion", server.runc_version()},
        {"nodeName", server.node_name()},     {"mode", server.mode()}};
  }
  if (output == "json") {
    cli.out() << json.dump(2) << "\n";
    return 0;
  }
  cli.out() << "Client Version: " << api::kBerthVersion << " (commit " << api::kBerthGitCommit
            << ")\n";
  if (!args->Has("client")) {
    cli.out() << "Server Version: " << server.version() << " (commit " << server.git_commit()
              << ", API " << server.api_version() << ", runc " << server.runc_version() << ", node "
              << server.node_name() << ", " << server.mode() << ")\n";
  }
  return 0;
}

}  // namespace berth::berthctl
