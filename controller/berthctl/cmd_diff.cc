// berthctl diff -f FILE|DIR|-: what berthd would do were these manifests
// applied (Plan): the plan of the whole node with them, as `berthd
// --dry-run` prints it ("create", "recreate", "delete" or "keep", an id and
// why). Exit code as kubectl diff's: 0 when nothing would change, 1 when
// something would, 2 on an error.
#include <iostream>

#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/manifest_files.h"

namespace berth::berthctl {
namespace {

constexpr int kDiffError = 2;

grpc::Status CallPlan(Cli& cli, const std::string& manifest, const std::string& origin,
                      v1::PlanResponse* response) {
  v1::PlanRequest request;
  request.set_manifest(manifest);
  request.set_origin(origin);
  grpc::ClientContext context;
  Cli::SetUnaryDeadline(&context);
  return cli.Api().Plan(&context, request, response);
}

}  // namespace

int RunDiff(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"filename", 'f', true, true}});
  if (!args.ok()) return cli.Fail(args.status()) + 1;
  if (!args->positional.empty()) return cli.Fail("diff takes its manifests with -f") + 1;
  absl::StatusOr<std::vector<ManifestInput>> inputs =
      ReadManifestInputs(args->Values("filename"), std::cin);
  if (!inputs.ok()) return cli.Fail(inputs.status()) + 1;
  std::string all;
  std::string origin = inputs->size() == 1 ? inputs->front().origin : "";
  for (const ManifestInput& input : *inputs) {
    if (inputs->size() > 1) {
      // Each on its own first, so that an error names its file and line.
      v1::PlanResponse checked;
      if (grpc::Status s = CallPlan(cli, input.content, input.origin, &checked); !s.ok()) {
        cli.Fail(s);
        return kDiffError;
      }
      if (!all.empty() && all.back() != '\n') all += "\n";
      all += "---\n";
    }
    all += input.content;
  }
  v1::PlanResponse plan;
  if (grpc::Status s = CallPlan(cli, all, origin.empty() ? "-f" : origin, &plan); !s.ok()) {
    cli.Fail(s);
    return kDiffError;
  }
  cli.out() << plan.text();
  for (const v1::PlannedAction& a : plan.actions()) {
    if (a.action() != "none") return 1;
  }
  return 0;
}

}  // namespace berth::berthctl
