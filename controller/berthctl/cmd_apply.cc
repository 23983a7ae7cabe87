// berthctl apply -f FILE|DIR|- [--dry-run[=server|client|none]]: writes
// NodeContainers into the node's manifests directory through berthd (Apply),
// printing what each became as `kubectl apply` does:
//   nodecontainer/web created|configured|unchanged [(dry run)]
// Every input is validated first (a dry-run Apply each): when any fails,
// its errors are printed and nothing at all is applied (exit 1).
#include <iostream>

#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/manifest_files.h"

namespace berth::berthctl {
namespace {

grpc::Status CallApply(Cli& cli, const ManifestInput& input, bool dry_run,
                       v1::ApplyResponse* response) {
  v1::ApplyRequest request;
  request.set_manifest(input.content);
  request.set_origin(input.origin);
  request.set_dry_run(dry_run);
  grpc::ClientContext context;
  Cli::SetUnaryDeadline(&context);
  return cli.Api().Apply(&context, request, response);
}

}  // namespace

int RunApply(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args =
      ParseArgs(argv, {{"filename", 'f', true, true}, {"dry-run", 0, false}});
  if (!args.ok()) return cli.Fail(args.status());
  if (!args->positional.empty()) {
    return cli.Fail("unexpected arguments: apply takes its manifests with -f");
  }
  const std::string dry = args->Value("dry-run", "none");
  if (dry != "none" && dry != "false" && dry != "true" && dry != "server" && dry != "client") {
    return cli.Fail("Invalid dry-run value (" + dry +
                    "). Must be \"none\", \"server\", or \"client\".");
  }
  const bool dry_run = dry != "none" && dry != "false";
  absl::StatusOr<std::vector<ManifestInput>> inputs =
      ReadManifestInputs(args->Values("filename"), std::cin);
  if (!inputs.ok()) return cli.Fail(inputs.status());
  // 1. Validate everything.
  std::vector<v1::ApplyResponse> checked(inputs->size());
  int failed = 0;
  for (size_t i = 0; i < inputs->size(); ++i) {
    if (grpc::Status s = CallApply(cli, (*inputs)[i], true, &checked[i]); !s.ok()) {
      cli.Fail(s);
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
          s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
        return 1;
      }
      ++failed;
    }
  }
  if (failed > 0) return 1;
  // 2. Apply.
  int status = 0;
  for (size_t i = 0; i < inputs->size(); ++i) {
    v1::ApplyResponse response = checked[i];
    if (!dry_run) {
      response.Clear();
      if (grpc::Status s = CallApply(cli, (*inputs)[i], false, &response); !s.ok()) {
        status = cli.Fail(s);
        continue;
      }
    }
    for (const v1::AppliedObject& o : response.objects()) {
      cli.out() << "nodecontainer/" << o.object().name() << " " << o.result()
                << (dry_run ? " (dry run)" : "") << "\n";
    }
  }
  return status;
}

}  // namespace berth::berthctl
