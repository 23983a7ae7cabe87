// berthctl describe NAME... [-n NS]: as `kubectl describe pod`, a section per
// object: Name, Namespace, Labels, Source, Container ID, Image, Image ID,
// Phase (and its reason and message), PID, Started, Finished, Exit Code,
// Restart Count, Last State, Last Error, the spec as given, and an Events
// table (Type, Reason, Age, Message; repeats folded into one row,
// "5s (x3 over 2m)"; by when last seen) or "<none>".
#include <algorithm>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"
#include "controller/berthctl/printers.h"

namespace berth::berthctl {
namespace {

// "Mon, 02 Jan 2006 15:04:05 -0700", as kubectl describe prints times.
std::string Rfc1123(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S %z", TimeOf(t), absl::LocalTimeZone());
}

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

void Line(std::string* out, absl::string_view key, absl::string_view value, int indent = 0) {
  std::string label = std::string(indent, ' ') + std::string(key) + ":";
  absl::StrAppend(out, label, std::string(label.size() < 16 ? 16 - label.size() : 1, ' '),
                  value.empty() ? "<none>" : value, "\n");
}

std::string Describe(const v1::Container& c, absl::Time now) {
  std::string out;
  const v1::ContainerStatus& s = c.status();
  Line(&out, "Name", c.name());
  Line(&out, "Namespace", c.namespace_());
  if (c.labels().empty()) {
    Line(&out, "Labels", "");
  } else {
    std::map<std::string, std::string> sorted(c.labels().begin(), c.labels().end());
    bool first = true;
    for (const auto& [k, v] : sorted) {
      absl::StrAppend(&out, first ? "Labels:         " : "                ", k, "=", v, "\n");
      first = false;
    }
  }
  const v1::Source& src = c.source();
  if (src.kind() == "api") {
    Line(&out, "Source",
         absl::StrCat("Kubernetes API (uid ", src.uid(), ", resourceVersion ",
                      src.resource_version(), ")"));
  } else {
    Line(&out, "Source", src.line() > 0 ? absl::StrCat(src.file(), ":", src.line()) : src.file());
  }
  Line(&out, "Container ID", c.id());
  Line(&out, "Image", c.image());
  Line(&out, "Image ID", s.image_id());
  Line(&out, "Phase", s.phase());
  if (!s.reason().empty()) Line(&out, "Reason", s.reason(), 2);
  if (!s.message().empty()) Line(&out, "Message", s.message(), 2);
  if (s.pid() > 0) Line(&out, "PID", absl::StrCat(s.pid()));
  if (!s.ip().empty()) Line(&out, "IP", s.ip());
  if (!c.ports().empty()) {
    // kubectl's form: "8080/TCP -> 127.0.0.1:18080", "9090/TCP (metrics)".
    std::vector<std::string> ports;
    for (const v1::Port& p : c.ports()) {
      std::string text = absl::StrCat(p.container_port(), "/", p.protocol());
      if (p.host_port() > 0) {
        absl::StrAppend(&text, " -> ", p.host_ip().empty() ? "" : p.host_ip(),
                        p.host_ip().empty() ? "" : ":", p.host_port());
      }
      if (!p.name().empty()) absl::StrAppend(&text, " (", p.name(), ")");
      ports.push_back(std::move(text));
    }
    Line(&out, "Ports", absl::StrJoin(ports, ", "));
  }
  if (IsSet(c.created_at())) Line(&out, "Created", Rfc1123(c.created_at()));
  if (IsSet(s.started_at())) Line(&out, "Started", Rfc1123(s.started_at()));
  if (IsSet(s.finished_at())) Line(&out, "Finished", Rfc1123(s.finished_at()));
  if (s.has_exit_code()) Line(&out, "Exit Code", absl::StrCat(s.exit_code()));
  Line(&out, "Restart Count", absl::StrCat(s.restart_count()));
  if (s.has_last_exit_code() || !s.last_exit_reason().empty()) {
    Line(&out, "Last State", "Terminated");
    Line(&out, "Reason", s.last_exit_reason(), 2);
    Line(&out, "Exit Code", s.has_last_exit_code() ? absl::StrCat(s.last_exit_code()) : "", 2);
  } else {
    Line(&out, "Last State", "");
  }
  if (!s.last_error().empty()) Line(&out, "Last Error", s.last_error());
  if (c.spec_yaml().empty()) {
    Line(&out, "Spec", "(no longer wanted on this node)");
  } else {
    out += "Spec:\n";
    for (absl::string_view l : absl::StrSplit(c.spec_yaml(), '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, "  ", l, "\n");
    }
  }
  if (c.events().empty()) {
    out += "Events:         <none>\n";
    return out;
  }
  out += "Events:\n";
  std::ostringstream table_out;
  Table table({"Type", "Reason", "Age", "Message"});
  table.Add({"----", "------", "----", "-------"});
  // Repeats of an event are one row, as kubectl shows them: "5s (x3 over
  // 2m)", ordered by when each was last seen.
  struct Seen {
    const v1::Event* first;
    const v1::Event* last;
    int count;
  };
  std::vector<Seen> seen;
  for (const v1::Event& e : c.events()) {
    auto same = std::find_if(seen.begin(), seen.end(), [&](const Seen& s) {
      return s.first->type() == e.type() && s.first->reason() == e.reason() &&
             s.first->message() == e.message();
    });
    if (same == seen.end()) {
      seen.push_back({&e, &e, 1});
      continue;
    }
    Seen moved{same->first, &e, same->count + 1};
    seen.erase(same);
    seen.push_back(moved);
  }
  for (const Seen& s : seen) {
    std::string age = AgeOf(s.last->time(), now);
    if (s.count > 1)
      absl::StrAppend(&age, " (x", s.count, " over ", AgeOf(s.first->time(), now), ")");
    table.Add({s.first->type(), s.first->reason(), age, s.first->message()});
  }
  table.Print(table_out);
  for (absl::string_view l : absl::StrSplit(table_out.str(), '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "  ", l, "\n");
  }
  return out;
}

}  // namespace

int RunDescribe(Cli& cli, const std::vector<std::string>& argv) {
  absl::StatusOr<Args> args = ParseArgs(argv, {{"namespace", 'n', true}});
  if (!args.ok()) return cli.Fail(args.status());
  std::vector<std::string> names = args->positional;
  if (!names.empty() &&
      (names[0] == "nodecontainers" || names[0] == "nodecontainer" || names[0] == "nc")) {
    names.erase(names.begin());
  }
  if (names.empty()) return cli.Fail("you must specify the name of a NodeContainer to describe");
  int code = 0;
  bool first = true;
  for (const std::string& name : names) {
    grpc::ClientContext context;
    Cli::SetUnaryDeadline(&context);
    v1::GetRequest request;
    request.mutable_ref()->set_namespace_(args->Value("namespace", "default"));
    request.mutable_ref()->set_name(name);
    v1::Container c;
    grpc::Status s = cli.Api().Get(&context, request, &c);
    if (!s.ok()) {
      code = cli.Fail(s);
      continue;
    }
    if (!first) cli.out() << "\n\n";
    first = false;
    cli.out() << Describe(c, absl::Now());
  }
  return code;
}

}  // namespace berth::berthctl
