// berthctl events [NAME] [-n NS | -A] [-w]: as `kubectl events`, a table of
// LAST SEEN, TYPE, REASON, OBJECT, MESSAGE (NAMESPACE first with -A) of the
// events berthd keeps, oldest first, of the default namespace unless -n or
// -A says otherwise, or of one NodeContainer. -w goes on printing new ones
// as they happen, until interrupted.
#include "absl/strings/str_cat.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/printers.h"

namespace berth::berthctl {

int RunEvents(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(
      argv, {{"namespace", 'n', true}, {"all-namespaces", 'A', false}, {"watch", 'w', false}});
  if (!args.ok()) return cli.Fail(args.status());
  const bool all = args->Has("all-namespaces");
  const bool watch = args->Has("watch");
  if (args->positional.size() > 1) return cli.Fail("at most one NodeContainer name");
  const std::string ns = args->Value("namespace", "default");
  v1::EventsRequest request;
  if (!all) request.mutable_object()->set_namespace_(ns);
  if (!args->positional.empty()) {
    request.mutable_object()->set_namespace_(ns);
    request.mutable_object()->set_name(args->positional[0]);
  }
  request.set_follow(watch);
  std::vector<std::string> header;
  if (all) header.push_back("NAMESPACE");
  for (const char* h : {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}) header.push_back(h);
  Table table(header);
  auto row = [&](const v1::Event& e) {
    std::vector<std::string> r;
    if (all) r.push_back(e.object().namespace_());
    r.push_back(AgeOf(e.time(), absl::Now()));
    r.push_back(e.type());
    r.push_back(e.reason());
    r.push_back("nodecontainer/" + e.object().name());
    r.push_back(e.message());
    table.Add(std::move(r));
  };

  grpc::ClientContext context;
  if (!watch) Cli::SetUnaryDeadline(&context);
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader = cli.Api().Events(&context, request);
  v1::Event e;
  bool printed = false;
  if (!watch) {
    while (reader->Read(&e)) row(e);
    grpc::Status s = reader->Finish();
    if (!s.ok()) return cli.Fail(s);
    if (table.empty()) {
      cli.err() << (all ? std::string("No events found.")
                        : "No events found in " + ns + " namespace.")
                << "\n";
      return 0;
    }
    table.Print(cli.out());
    return 0;
  }
  // Following: each event as it comes, the header before the first.
  while (reader->Read(&e)) {
    row(e);
    table.Print(cli.out(), /*header=*/!printed);
    printed = true;
  }
  return cli.Fail(reader->Finish());
}

}  // namespace berth::berthctl
