// berthctl delete NAME... [-n NS] | delete -f FILE|DIR|-: removes
// NodeContainers' manifests from the node's manifests directory through
// berthd (Delete); berthd then stops their containers as for any removed
// file. Prints `nodecontainer "web" deleted` for each, as kubectl does, and
// goes on after a failure (exit 1 at the end). NAME may be written
// nodecontainer/NAME.
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/manifest_files.h"
#include "controller/spec/spec_parser.h"

namespace berth::berthctl {

int RunDelete(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args =
      ParseArgs(argv, {{"filename", 'f', true, true}, {"namespace", 'n', true}});
  if (!args.ok()) return cli.Fail(args.status());
  const bool by_file = args->Has("filename");
  if (by_file == !args->positional.empty()) {
    return cli.Fail(by_file ? "delete takes names or -f, not both"
                            : "resource(s) were provided, but no name was specified");
  }
  std::vector<controller::NamespacedName> targets;
  if (by_file) {
    absl::StatusOr<std::vector<ManifestInput>> inputs =
        ReadManifestInputs(args->Values("filename"), std::cin);
    if (!inputs.ok()) return cli.Fail(inputs.status());
    for (const ManifestInput& input : *inputs) {
      controller::ParseResult parsed = controller::ParseManifests(input.content, input.origin);
      if (!parsed.errors.empty()) return cli.Fail(parsed.errors.front().ToString());
      for (const controller::NodeContainer& o : parsed.objects) {
        targets.push_back({o.metadata.namespace_, o.metadata.name});
      }
    }
  } else {
    const std::string ns = args->Value("namespace", "default");
    for (absl::string_view name : args->positional) {
      if (!absl::ConsumePrefix(&name, "nodecontainers/"))
        absl::ConsumePrefix(&name, "nodecontainer/");
      targets.push_back({ns, std::string(name)});
    }
  }
  int status = 0;
  for (const controller::NamespacedName& t : targets) {
    v1::DeleteRequest request;
    request.mutable_ref()->set_namespace_(t.namespace_);
    request.mutable_ref()->set_name(t.name);
    v1::DeleteResponse response;
    grpc::ClientContext context;
    Cli::SetUnaryDeadline(&context);
    if (grpc::Status s = cli.Api().Delete(&context, request, &response); !s.ok()) {
      status = cli.Fail(s);
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE) return status;
      continue;
    }
    cli.out() << "nodecontainer \"" << t.name << "\" deleted\n";
  }
  return status;
}

}  // namespace berth::berthctl
