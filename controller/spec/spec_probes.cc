#include "controller/spec/spec_probes.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/spec/yaml_reader.h"

namespace berth::controller {
namespace {

constexpr int64_t kMaxInt32 = 2147483647;
constexpr int64_t kMaxGracePeriodSeconds = 31536000;  // as spec.terminationGracePeriodSeconds
constexpr int64_t kMaxPort = 65535;

}  // namespace

absl::Status ValidatePortName(absl::string_view name) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid port name ", QuoteForError(name), ": ", why));
  };
  if (name.empty() || name.size() > 15) return invalid("must be 1-15 characters");
  if (!std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
      })) {
    return invalid("must contain only lower-case letters, digits and '-'");
  }
  if (std::none_of(name.begin(), name.end(), absl::ascii_islower)) {
    return invalid("must contain at least one letter (a-z)");
  }
  if (absl::StrContains(name, "--")) return invalid("must not contain consecutive '-'");
  if (name.front() == '-' || name.back() == '-') return invalid("must not begin or end with '-'");
  return absl::OkStatus();
}

bool IsHttpHeaderName(absl::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
}

void ProbeDecoder::Decode(const Fields& spec, NodeContainerSpec* out) {
  if (!spec.map) return;
  out->liveness_probe = DecodeProbe(spec, "livenessProbe", ProbeKind::kLiveness);
  out->readiness_probe = DecodeProbe(spec, "readinessProbe", ProbeKind::kReadiness);
  out->startup_probe = DecodeProbe(spec, "startupProbe", ProbeKind::kStartup);
  const Fields lifecycle = Sub(spec, "lifecycle", {"postStart", "preStop"});
  out->lifecycle.post_start =
      DecodeHook(lifecycle, "postStart", out->termination_grace_period_seconds);
  out->lifecycle.pre_stop = DecodeHook(lifecycle, "preStop", out->termination_grace_period_seconds);
  // Named ports, now that spec.ports is read.
  for (const NamedPort& p : named_ports_) {
    const bool found = std::any_of(out->ports.begin(), out->ports.end(),
                                   [&](const ContainerPort& c) { return c.name == p.name; });
    if (!found) {
      Error(*p.node, p.path,
            absl::StrCat("no entry of spec.ports is named ", QuoteForError(p.name),
                         " (name a port there, or give the number)"));
    }
  }
}

std::optional<Probe> ProbeDecoder::DecodeProbe(const Fields& spec, absl::string_view key,
                                               ProbeKind kind) {
  if (!spec.Get(key)) return std::nullopt;
  const size_t errors_before = errors_.size();
  const Fields f = Sub(
      spec, key,
      {"exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "periodSeconds",
       "timeoutSeconds", "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"});
  if (!f.map) return std::nullopt;
  Probe probe;
  DecodeHandler(f, {"exec", "httpGet", "tcpSocket", "grpc"}, &probe.handler);
  Count(f, "initialDelaySeconds", 0, false, &probe.initial_delay_seconds);
  Count(f, "periodSeconds", 1, true, &probe.period_seconds);
  Count(f, "timeoutSeconds", 1, true, &probe.timeout_seconds);
  if (Count(f, "successThreshold", 1, true, &probe.success_threshold) &&
      kind != ProbeKind::kReadiness && probe.success_threshold != 1) {
    Error(*f.Get("successThreshold"), f.Path("successThreshold"),
          absl::StrCat("must be 1 for a ", kind == ProbeKind::kLiveness ? "liveness" : "startup",
                       " probe, got ", probe.success_threshold));
  }
  Count(f, "failureThreshold", 1, true, &probe.failure_threshold);
  if (const YamlNode* n = f.Get("terminationGracePeriodSeconds")) {
    if (kind == ProbeKind::kReadiness) {
      Error(*n, f.Path("terminationGracePeriodSeconds"),
            "must not be set on a readiness probe (it never stops the container)");
    } else {
      int64_t seconds = 0;
      Int(f, "terminationGracePeriodSeconds", 1, kMaxGracePeriodSeconds, &seconds);
      if (seconds > 0) probe.termination_grace_period_seconds = seconds;
    }
  }
  if (errors_.size() != errors_before) return std::nullopt;
  return probe;
}

std::optional<Handler> ProbeDecoder::DecodeHook(const Fields& lifecycle, absl::string_view key,
                                                int64_t grace_period_seconds) {
  if (!lifecycle.Get(key)) return std::nullopt;
  const size_t errors_before = errors_.size();
  const Fields f = Sub(lifecycle, key, {"exec", "httpGet", "tcpSocket", "sleep"});
  if (!f.map) return std::nullopt;
  if (const YamlNode* n = f.Get("tcpSocket")) {
    Error(*n, f.Path("tcpSocket"),
          "not supported in lifecycle hooks (Kubernetes keeps the field for compatibility and "
          "never runs it): use exec, httpGet or sleep");
    return std::nullopt;
  }
  Handler handler;
  DecodeHandler(f, {"exec", "httpGet", "sleep"}, &handler);
  if (f.Get("sleep")) {
    const Fields sleep = Sub(f, "sleep", {"seconds"});
    if (sleep.map && Require(sleep, "seconds")) {
      const YamlNode& n = *sleep.Get("seconds");
      int64_t seconds = 0;
      bool overflow = false;
      if (TypeOf(n) != YamlType::kInt || !ParseYamlInt(n.value, &seconds, &overflow)) {
        Error(n, sleep.Path("seconds"), absl::StrCat("expected an integer, got ", Describe(n)));
      } else if (overflow || seconds < 1 || seconds > grace_period_seconds) {
        Error(n, sleep.Path("seconds"),
              absl::StrCat("must be at least 1 and at most the spec's "
                           "terminationGracePeriodSeconds (",
                           grace_period_seconds, "), got ", EscapeForError(n.value)));
      } else {
        handler.sleep = SleepAction{seconds};
      }
    }
  }
  if (errors_.size() != errors_before) return std::nullopt;
  return handler;
}

bool ProbeDecoder::DecodeHandler(const Fields& f, std::initializer_list<absl::string_view> accepted,
                                 Handler* out) {
  std::vector<std::string> set;
  for (absl::string_view key : accepted) {
    if (f.Get(key)) set.emplace_back(key);
  }
  if (set.size() != 1) {
    Error(*f.map, f.path,
          absl::StrCat("exactly one handler must be set (one of ", absl::StrJoin(accepted, ", "),
                       "), got ", set.empty() ? "none" : absl::StrJoin(set, " and ")));
    return false;
  }
  const size_t errors_before = errors_.size();
  if (f.Get("exec")) {
    const Fields exec = Sub(f, "exec", {"command"});
    ExecAction action;
    if (exec.map && Require(exec, "command")) {
      StringList(exec, "command", &action.command);
      const YamlNode& n = *exec.Get("command");
      if (n.kind == YamlKind::kSequence && n.children.empty()) {
        Error(n, exec.Path("command"), "must not be empty");
      }
    }
    out->exec = std::move(action);
  }
  if (f.Get("httpGet")) {
    DecodeHttpGet(Sub(f, "httpGet", {"path", "port", "host", "scheme", "httpHeaders"}),
                  &out->http_get.emplace());
  }
  if (f.Get("tcpSocket")) {
    const Fields tcp = Sub(f, "tcpSocket", {"port", "host"});
    TcpSocketAction action;
    if (tcp.map && Require(tcp, "port")) DecodePort(tcp, "port", &action.port);
    String(tcp, "host", &action.host);
    out->tcp_socket = std::move(action);
  }
  if (f.Get("grpc")) {
    const Fields grpc = Sub(f, "grpc", {"port", "service"});
    GrpcAction action;
    if (grpc.map && Require(grpc, "port")) {
      int64_t port = 0;
      Int(grpc, "port", 1, kMaxPort, &port);
      action.port = static_cast<int32_t>(port);
    }
    String(grpc, "service", &action.service);
    out->grpc = std::move(action);
  }
  // sleep: DecodeHook's, which knows the grace period.
  return errors_.size() == errors_before;
}

bool ProbeDecoder::DecodeHttpGet(const Fields& f, HttpGetAction* out) {
  const size_t errors_before = errors_.size();
  if (!f.map) return false;
  if (String(f, "path", &out->path) && out->path.empty()) out->path = "/";
  if (Require(f, "port")) DecodePort(f, "port", &out->port);
  String(f, "host", &out->host);
  std::string scheme;
  if (const YamlNode* n = String(f, "scheme", &scheme)) {
    if (scheme == "HTTP") {
      out->scheme = HttpScheme::kHttp;
    } else if (scheme == "HTTPS") {
      out->scheme = HttpScheme::kHttps;
    } else {
      Error(*n, f.Path("scheme"),
            absl::StrCat("unknown scheme ", QuoteForError(scheme), " (accepted: HTTP, HTTPS)"));
    }
  }
  if (const YamlNode* list = f.Get("httpHeaders")) {
    if (list->kind != YamlKind::kSequence) {
      Error(*list, f.Path("httpHeaders"),
            absl::StrCat("expected a sequence, got ", Describe(*list)));
    } else {
      for (size_t i = 0; i < list->children.size(); ++i) {
        const Fields h = ReadFields(At(list->children[i]), ItemPath(f.Path("httpHeaders"), i),
                                    {"name", "value"});
        if (!h.map) continue;
        HttpHeader header;
        if (Require(h, "name") && String(h, "name", &header.name) &&
            !IsHttpHeaderName(header.name)) {
          Error(*h.Get("name"), h.Path("name"),
                absl::StrCat("invalid HTTP header name ", QuoteForError(header.name),
                             " (letters, digits and '-')"));
        }
        if (Require(h, "value")) String(h, "value", &header.value);
        out->headers.push_back(std::move(header));
      }
    }
  }
  return errors_.size() == errors_before;
}

bool ProbeDecoder::DecodePort(const Fields& f, absl::string_view key, PortRef* out) {
  const YamlNode* n = f.Get(key);
  std::string text;
  if (!n || !ReadIntOrString(
                *n, [&] { return f.Path(key); }, &text))
    return false;
  if (TypeOf(*n) == YamlType::kInt) {
    int64_t port = 0;
    if (!absl::SimpleAtoi(text, &port) || port < 1 || port > kMaxPort) {
      Error(*n, f.Path(key), absl::StrCat("must be between 1 and 65535, got ", text));
      return false;
    }
    out->number = static_cast<int32_t>(port);
    return true;
  }
  if (absl::Status s = ValidatePortName(text); !s.ok()) {
    Error(*n, f.Path(key), std::string(s.message()));
    return false;
  }
  out->name = text;
  named_ports_.push_back(NamedPort{n, f.Path(key), text});
  return true;
}

bool ProbeDecoder::Count(const Fields& f, absl::string_view key, int64_t min, bool zero_is_default,
                         int64_t* out) {
  if (!f.Get(key)) return false;
  const size_t errors_before = errors_.size();
  int64_t value = -1;
  Int(f, key, zero_is_default ? 0 : min, kMaxInt32, &value);
  if (errors_.size() != errors_before) return false;
  if (value != 0 || !zero_is_default) *out = value;
  return true;
}

}  // namespace berth::controller
