// berthctl logs [-f] [--tail N] [--since D] [--timestamps] [-n NS] NAME:
// a container's output (both streams, oldest first), as `kubectl logs`.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"

namespace berth::berthctl {

int RunLogs(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"follow", 'f', false},
                                               {"tail", 0, true},
                                               {"since", 0, true},
                                               {"timestamps", 0, false},
                                               {"namespace", 'n', true}});
  if (!args.ok()) return cli.Fail(args.status());
  if (args->positional.size() != 1) {
    return cli.Fail(
        "logs takes exactly one NAME: berthctl logs [-f] [--tail N] [--since D] "
        "[--timestamps] [-n NAMESPACE] NAME");
  }
  v1::LogsRequest request;
  request.mutable_ref()->set_namespace_(args->Value("namespace", "default"));
  request.mutable_ref()->set_name(args->positional[0]);
  request.set_follow(args->Has("follow"));
  request.set_timestamps(args->Has("timestamps"));
  int64_t tail = -1;
  if (args->Has("tail") && !absl::SimpleAtoi(args->Value("tail"), &tail)) {
    return cli.Fail("invalid argument \"" + args->Value("tail") + "\" for \"--tail\"");
  }
  request.set_tail_lines(tail < 0 ? -1 : tail);
  if (args->Has("since")) {
    absl::Duration since;
    if (!absl::ParseDuration(args->Value("since"), &since) || since < absl::ZeroDuration()) {
      return cli.Fail("invalid argument \"" + args->Value("since") +
                      "\" for \"--since\": a duration such as 30s, 5m or 1h");
    }
    const int64_t nanos = absl::ToUnixNanos(absl::Now() - since);
    request.mutable_since_time()->set_seconds(nanos / 1000000000);
    request.mutable_since_time()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  grpc::ClientContext context;
  if (!request.follow()) Cli::SetUnaryDeadline(&context);
  std::unique_ptr<grpc::ClientReader<v1::LogChunk>> reader = cli.Api().Logs(&context, request);
  v1::LogChunk chunk;
  std::string out;
  while (reader->Read(&chunk)) {
    out.clear();
    for (const v1::LogLine& line : chunk.lines()) {
      if (request.timestamps()) {
        const absl::Time t =
            absl::FromUnixSeconds(line.time().seconds()) + absl::Nanoseconds(line.time().nanos());
        out += absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ ", t, absl::UTCTimeZone());
      }
      out += line.content();
      out += '\n';
    }
    cli.out() << out << std::flush;  // a follow shows each chunk at once
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return cli.Fail(s);
  return 0;
}

}  // namespace berth::berthctl
