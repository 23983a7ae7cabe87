// berthctl top [NAME] [-n NS | -A] [--interval D] [--no-headers]: CPU and
// memory of running containers, as `kubectl top pod` prints them. The API
// gives cumulative CPU time, so top takes two samples --interval apart
// (default 1s) and prints the rate in millicores; MEMORY is the working set
// (what kubectl top shows), PIDS the processes and threads.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/printers.h"

namespace berth::berthctl {
namespace {

absl::StatusOr<v1::StatsResponse> Sample(Cli& cli, const v1::StatsRequest& request,
                                         grpc::Status* failed) {
  grpc::ClientContext context;
  Cli::SetUnaryDeadline(&context);
  v1::StatsResponse response;
  *failed = cli.Api().Stats(&context, request, &response);
  if (!failed->ok()) return absl::UnknownError("failed");
  return response;
}

std::string Key(const v1::ObjectRef& ref) { return ref.namespace_() + "/" + ref.name(); }

int64_t Nanos(const google::protobuf::Timestamp& t) { return t.seconds() * 1000000000 + t.nanos(); }

}  // namespace

int RunTop(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"namespace", 'n', true},
                                               {"all-namespaces", 'A', false},
                                               {"interval", 0, true},
                                               {"no-headers", 0, false}});
  if (!args.ok()) return cli.Fail(args.status());
  // kubectl top pod takes "pod"/"pods" first; so does this ("nc").
  std::vector<std::string> names = args->positional;
  if (!names.empty() &&
      (names[0] == "nc" || names[0] == "nodecontainer" || names[0] == "nodecontainers")) {
    names.erase(names.begin());
  }
  if (names.size() > 1) return cli.Fail("top takes at most one NAME");
  absl::Duration interval = absl::Seconds(1);
  if (args->Has("interval") && (!absl::ParseDuration(args->Value("interval"), &interval) ||
                                interval <= absl::ZeroDuration())) {
    return cli.Fail("--interval must be a positive duration such as 1s or 500ms, not \"" +
                    args->Value("interval") + "\"");
  }
  const bool all = args->Has("all-namespaces");
  if (all && !names.empty()) {
    return cli.Fail("a resource cannot be retrieved by name across all namespaces");
  }
  const std::string ns = args->Value("namespace", "default");
  v1::StatsRequest request;
  if (!all) request.mutable_ref()->set_namespace_(ns);
  if (!names.empty()) request.mutable_ref()->set_name(names[0]);

  grpc::Status failed;
  absl::StatusOr<v1::StatsResponse> first = Sample(cli, request, &failed);
  if (!first.ok()) return cli.Fail(failed);
  absl::SleepFor(interval);
  absl::StatusOr<v1::StatsResponse> second = Sample(cli, request, &failed);
  if (!second.ok()) return cli.Fail(failed);

  std::map<std::string, const v1::ContainerStats*> before;
  for (const v1::ContainerStats& s : first->items()) before[Key(s.object())] = &s;
  std::vector<std::string> header = {"NAME", "CPU(cores)", "MEMORY(bytes)", "PIDS"};
  if (all) header.insert(header.begin(), "NAMESPACE");
  Table table(header);
  for (const v1::ContainerStats& s : second->items()) {
    auto it = before.find(Key(s.object()));
    if (it == before.end()) continue;  // started between the samples
    const int64_t dt = Nanos(s.time()) - Nanos(it->second->time());
    const int64_t dcpu = static_cast<int64_t>(s.cpu_usage_nanoseconds()) -
                         static_cast<int64_t>(it->second->cpu_usage_nanoseconds());
    // Restarted between the samples: its counter began again.
    const int64_t millicores = dt > 0 && dcpu >= 0 ? dcpu * 1000 / dt : 0;
    std::vector<std::string> row = {s.object().name(), absl::StrCat(millicores, "m"),
                                    absl::StrCat(s.memory_working_set_bytes() >> 20, "Mi"),
                                    absl::StrCat(s.pids())};
    if (all) row.insert(row.begin(), s.object().namespace_());
    table.Add(row);
  }
  if (table.empty()) {
    cli.err() << (all ? std::string("No resources found")
                      : "No resources found in " + ns + " namespace.")
              << "\n";
    return 0;
  }
  table.Print(cli.out(), !args->Has("no-headers"));
  return 0;
}

}  // namespace berth::berthctl
