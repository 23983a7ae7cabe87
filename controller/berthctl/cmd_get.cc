// berthctl get [NAME...] [-n NS | -A] [-l SELECTOR] [--phase P] [--source file|api]
//              [-o wide|json|yaml|name] [-w]
//
// As `kubectl get pods`: a table of NAME, READY (1/1 when the container is
// ready, else 0/1), IMAGE, PHASE, RESTARTS, AGE (NAMESPACE first with -A; -o wide adds IP, PID,
// CONTAINER-ID and SOURCE), of the default namespace unless -n or -A says otherwise. Names are read
// one by one (Get); a name not found is reported on stderr as kubectl does
// (`Error from server (NotFound): nodecontainers "x" not found`) and the
// exit code is 1, while the names found are printed. -o json|yaml prints
// the one object asked for by name, else a List (printers.h). -w prints
// the list, then a row (an object with -o json|yaml|name) for every change
// as it happens, until interrupted (a Watch from the list's revision).
#include <set>

#include "google/protobuf/arena.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/printers.h"

namespace berth::berthctl {
namespace {

struct GetOptions {
  bool all_namespaces = false;
  bool wide = false;
  std::string output;  // "", wide, json, yaml, name
};

std::string SourceText(const v1::Source& s) {
  if (s.kind() == "api") return "api";
  if (s.file().empty()) return "<none>";
  return s.line() > 0 ? absl::StrCat(s.file(), ":", s.line()) : s.file();
}

std::vector<std::string> Header(const GetOptions& o) {
  std::vector<std::string> h;
  if (o.all_namespaces) h.push_back("NAMESPACE");
  for (const char* c : {"NAME", "READY", "IMAGE", "PHASE", "RESTARTS", "AGE"}) h.push_back(c);
  if (o.wide) {
    for (const char* c : {"IP", "PID", "CONTAINER-ID", "SOURCE"}) h.push_back(c);
  }
  return h;
}

std::vector<std::string> Row(const GetOptions& o, const v1::Container& c, absl::Time now) {
  std::vector<std::string> r;
  if (o.all_namespaces) r.push_back(c.namespace_());
  r.push_back(c.name());
  r.push_back(c.status().ready() ? "1/1" : "0/1");  // kubectl's ready/total containers
  r.push_back(c.image());
  r.push_back(c.status().phase());
  r.push_back(absl::StrCat(c.status().restart_count()));
  r.push_back(AgeOf(c.created_at(), now));
  if (o.wide) {
    r.push_back(c.status().ip().empty() ? "<none>" : c.status().ip());
    r.push_back(c.status().pid() > 0 ? absl::StrCat(c.status().pid()) : "<none>");
    r.push_back(c.id());
    r.push_back(SourceText(c.source()));
  }
  return r;
}

// Prints one object (-o json|yaml|name).
void PrintObject(Cli& cli, const std::string& output, const v1::Container& c) {
  if (output == "name") {
    cli.out() << "nodecontainer/" << c.name() << "\n";
  } else if (output == "json") {
    cli.out() << ToJson(c).dump(4) << "\n";
  } else {
    cli.out() << ToYaml(ToJson(c));
  }
  cli.out().flush();
}

int Watch(Cli& cli, const GetOptions& o, const v1::ListFilter& filter, uint64_t revision,
          const std::set<std::string>& names, Table& table) {
  grpc::ClientContext context;
  v1::WatchRequest request;
  *request.mutable_filter() = filter;
  request.set_since_revision(revision);
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader = cli.Api().Watch(&context, request);
  v1::WatchEvent e;
  while (reader->Read(&e)) {
    if (!names.empty() && names.count(e.container().name()) == 0) continue;
    if (o.output.empty() || o.wide) {
      table.Add(Row(o, e.container(), absl::Now()));
      table.Print(cli.out(), /*header=*/false);
    } else {
      PrintObject(cli, o.output, e.container());
    }
  }
  return cli.Fail(reader->Finish());
}

}  // namespace

int RunGet(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"namespace", 'n', true},
                                               {"all-namespaces", 'A', false},
                                               {"selector", 'l', true},
                                               {"phase", 0, true},
                                               {"source", 0, true},
                                               {"output", 'o', true},
                                               {"watch", 'w', false}});
  if (!args.ok()) return cli.Fail(args.status());
  GetOptions o;
  o.all_namespaces = args->Has("all-namespaces");
  o.output = args->Value("output");
  o.wide = o.output == "wide";
  if (!o.output.empty() && o.output != "wide" && o.output != "json" && o.output != "yaml" &&
      o.output != "name") {
    return cli.Fail("unable to match a printer suitable for the output format \"" + o.output +
                    "\", allowed formats are: json,name,wide,yaml");
  }
  std::vector<std::string> positional = args->positional;
  // "get nodecontainers [NAME...]" as kubectl users type it.
  if (!positional.empty() && (positional[0] == "nodecontainers" ||
                              positional[0] == "nodecontainer" || positional[0] == "nc")) {
    positional.erase(positional.begin());
  }
  const std::string ns = args->Value("namespace", "default");
  if (o.all_namespaces && !positional.empty()) {
    return cli.Fail("a resource cannot be retrieved by name across all namespaces");
  }
  v1::ListFilter filter;
  if (!o.all_namespaces) filter.set_namespace_(ns);
  filter.set_label_selector(args->Value("selector"));
  filter.set_phase(args->Value("phase"));
  filter.set_source(args->Value("source"));

  // The answer is parsed into an arena (one block to free, not one per
  // string of 1,000 containers) and printed from where it lies.
  google::protobuf::Arena arena;
  std::vector<const v1::Container*> items;
  std::vector<v1::Container> got;  // read by name
  uint64_t revision = 0;
  int code = 0;
  if (positional.empty()) {
    grpc::ClientContext context;
    Cli::SetUnaryDeadline(&context);
    v1::ListRequest request;
    *request.mutable_filter() = filter;
    auto* response = google::protobuf::Arena::CreateMessage<v1::ListResponse>(&arena);
    grpc::Status s = cli.Api().List(&context, request, response);
    if (!s.ok()) return cli.Fail(s);
    items.reserve(response->items_size());
    for (const v1::Container& c : response->items()) items.push_back(&c);
    revision = response->revision();
  } else {
    for (const std::string& name : positional) {
      grpc::ClientContext context;
      Cli::SetUnaryDeadline(&context);
      v1::GetRequest request;
      request.mutable_ref()->set_namespace_(ns);
      request.mutable_ref()->set_name(name);
      v1::Container c;
      grpc::Status s = cli.Api().Get(&context, request, &c);
      if (!s.ok()) {
        code = cli.Fail(s);
        if (s.error_code() != grpc::StatusCode::NOT_FOUND) return code;
        continue;
      }
      c.clear_events();
      got.push_back(std::move(c));
    }
    for (const v1::Container& c : got) items.push_back(&c);
  }

  Table table(Header(o));
  if (o.output == "json" || o.output == "yaml") {
    if (positional.size() == 1 && items.size() == 1) {
      PrintObject(cli, o.output, *items[0]);
    } else {
      std::vector<nlohmann::json> json;
      for (const v1::Container* c : items) json.push_back(ToJson(*c));
      const nlohmann::json list = ListJson(json, revision);
      cli.out() << (o.output == "json" ? list.dump(4) + "\n" : ToYaml(list));
    }
  } else if (o.output == "name") {
    for (const v1::Container* c : items) PrintObject(cli, o.output, *c);
  } else if (!items.empty()) {
    const absl::Time now = absl::Now();
    for (const v1::Container* c : items) table.Add(Row(o, *c, now));
    table.Print(cli.out());
  } else if (positional.empty() && !args->Has("watch")) {
    cli.err() << (o.all_namespaces ? std::string("No resources found")
                                   : "No resources found in " + ns + " namespace.")
              << "\n";
  }
  cli.out().flush();
  if (!args->Has("watch")) return code;
  if (revision == 0 && !positional.empty()) {
    // Names were read one by one: watch from whatever the node has now.
    grpc::ClientContext context;
    Cli::SetUnaryDeadline(&context);
    v1::ListRequest request;
    *request.mutable_filter() = filter;
    v1::ListResponse response;
    if (grpc::Status s = cli.Api().List(&context, request, &response); !s.ok()) return cli.Fail(s);
    revision = response.revision();
  }
  if (items.empty() && (o.output.empty() || o.wide)) table.Print(cli.out());
  const std::set<std::string> names(positional.begin(), positional.end());
  return Watch(cli, o, filter, revision, names, table);
}

}  // namespace berth::berthctl
