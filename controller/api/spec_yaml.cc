#include "controller/api/spec_yaml.h"

#include <string.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::api {
namespace {

using controller::NodeContainerSpec;
using controller::RestartPolicy;

// A plain scalar YAML 1.1 reads back as this very string: starts with a
// letter or '/', holds only [A-Za-z0-9_./-], and is no bool or null word.
bool IsSafePlain(const std::string& s) {
  if (s.empty()) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(s[0])) && s[0] != '/') return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '/' &&
        c != '-') {
      return false;
    }
  }
  static const char* const kWords[] = {"y",   "n",    "yes",   "no",   "on",
                                       "off", "true", "false", "null", "nan"};
  const std::string lower = absl::AsciiStrToLower(s);
  for (const char* w : kWords) {
    if (lower == w) return false;
  }
  return true;
}

// A scalar that reads back as `s`: plain when safe, else double-quoted.
std::string Scalar(const std::string& s) {
  if (IsSafePlain(s)) return s;
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// A quantity with a suffix ("250m", "64Mi") reads back as a string plain;
// a bare number ("2") must be quoted (the field takes strings or integers).
std::string QuantityScalar(const std::string& q) {
  return absl::ascii_isdigit(static_cast<unsigned char>(q.back())) ? Scalar(q) : q;
}

void List(std::string* out, const std::string& indent, const char* key,
          const std::vector<std::string>& items) {
  if (items.empty()) return;
  absl::StrAppend(out, indent, key, ":\n");
  for (const std::string& i : items) absl::StrAppend(out, indent, "- ", Scalar(i), "\n");
}

void Map(std::string* out, const std::string& indent, const char* key,
         const std::map<std::string, std::string>& m) {
  if (m.empty()) return;
  absl::StrAppend(out, indent, key, ":\n");
  for (const auto& [k, v] : m) absl::StrAppend(out, indent, "  ", Scalar(k), ": ", Scalar(v), "\n");
}

const char* PullPolicyName(image::ImagePullPolicy p) {
  switch (p) {
    case image::ImagePullPolicy::kAlways: return "Always";
    case image::ImagePullPolicy::kIfNotPresent: return "IfNotPresent";
    case image::ImagePullPolicy::kNever: return "Never";
  }
  return "IfNotPresent";
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : absl::StrCat(signal);
}

// spec.ports, hostname, dnsPolicy, dnsConfig and hostAliases, when set.
void AppendNetwork(const NodeContainerSpec& spec, std::string* out) {
  if (!spec.ports.empty()) {
    *out += "ports:\n";
    for (const controller::ContainerPort& p : spec.ports) {
      absl::StrAppend(out, "- containerPort: ", p.container_port, "\n");
      if (!p.name.empty()) absl::StrAppend(out, "  name: ", Scalar(p.name), "\n");
      if (p.host_port > 0) absl::StrAppend(out, "  hostPort: ", p.host_port, "\n");
      if (!p.host_ip.empty()) absl::StrAppend(out, "  hostIP: ", Scalar(p.host_ip), "\n");
      if (p.protocol == controller::Protocol::kUdp) *out += "  protocol: UDP\n";
    }
  }
  if (!spec.hostname.empty()) absl::StrAppend(out, "hostname: ", Scalar(spec.hostname), "\n");
  if (spec.dns_policy == controller::DnsPolicy::kNone) *out += "dnsPolicy: None\n";
  if (spec.dns_config.has_value()) {
    *out += "dnsConfig:\n";
    List(out, "  ", "nameservers", spec.dns_config->nameservers);
    List(out, "  ", "searches", spec.dns_config->searches);
    if (!spec.dns_config->options.empty()) {
      *out += "  options:\n";
      for (const controller::DnsOption& o : spec.dns_config->options) {
        absl::StrAppend(out, "  - name: ", Scalar(o.name), "\n");
        if (o.value.has_value()) absl::StrAppend(out, "    value: ", Scalar(*o.value), "\n");
      }
    }
  }
  if (!spec.host_aliases.empty()) {
    *out += "hostAliases:\n";
    for (const controller::HostAlias& a : spec.host_aliases) {
      absl::StrAppend(out, "- ip: ", Scalar(a.ip), "\n");
      List(out, "  ", "hostnames", a.hostnames);
    }
  }
}

// A port given by number or by the name of a spec.ports entry.
std::string PortScalar(const controller::PortRef& p) {
  return p.name.empty() ? absl::StrCat(p.number) : Scalar(p.name);
}

// One handler's mapping (exec, httpGet, tcpSocket, grpc or sleep) at
// `indent`.
void AppendHandler(const controller::Handler& h, const std::string& indent, std::string* out) {
  if (h.exec.has_value()) {
    absl::StrAppend(out, indent, "exec:\n");
    List(out, indent + "  ", "command", h.exec->command);
  }
  if (h.http_get.has_value()) {
    const controller::HttpGetAction& g = *h.http_get;
    absl::StrAppend(out, indent, "httpGet:\n", indent, "  path: ", Scalar(g.path), "\n", indent,
                    "  port: ", PortScalar(g.port), "\n");
    if (!g.host.empty()) absl::StrAppend(out, indent, "  host: ", Scalar(g.host), "\n");
    if (g.scheme == controller::HttpScheme::kHttps) absl::StrAppend(out, indent, "  scheme: HTTPS\n");
    if (!g.headers.empty()) {
      absl::StrAppend(out, indent, "  httpHeaders:\n");
      for (const controller::HttpHeader& hd : g.headers) {
        absl::StrAppend(out, indent, "  - name: ", Scalar(hd.name), "\n", indent,
                        "    value: ", Scalar(hd.value), "\n");
      }
    }
  }
  if (h.tcp_socket.has_value()) {
    absl::StrAppend(out, indent, "tcpSocket:\n", indent, "  port: ", PortScalar(h.tcp_socket->port),
                    "\n");
    if (!h.tcp_socket->host.empty()) {
      absl::StrAppend(out, indent, "  host: ", Scalar(h.tcp_socket->host), "\n");
    }
  }
  if (h.grpc.has_value()) {
    absl::StrAppend(out, indent, "grpc:\n", indent, "  port: ", h.grpc->port, "\n");
    if (!h.grpc->service.empty()) {
      absl::StrAppend(out, indent, "  service: ", Scalar(h.grpc->service), "\n");
    }
  }
  if (h.sleep.has_value()) {
    absl::StrAppend(out, indent, "sleep:\n", indent, "  seconds: ", h.sleep->seconds, "\n");
  }
}

// A probe, its timings only where they differ from the defaults.
void AppendProbe(const char* key, const controller::HeapOptional<controller::Probe>& probe,
                 std::string* out) {
  if (!probe.has_value()) return;
  const controller::Probe& p = *probe;
  absl::StrAppend(out, key, ":\n");
  AppendHandler(p.handler, "  ", out);
  auto count = [&](const char* name, int64_t value, int64_t by_default) {
    if (value != by_default) absl::StrAppend(out, "  ", name, ": ", value, "\n");
  };
  count("initialDelaySeconds", p.initial_delay_seconds, 0);
  count("periodSeconds", p.period_seconds, 10);
  count("timeoutSeconds", p.timeout_seconds, 1);
  count("successThreshold", p.success_threshold, 1);
  count("failureThreshold", p.failure_threshold, 3);
  if (p.termination_grace_period_seconds.has_value()) {
    absl::StrAppend(out, "  terminationGracePeriodSeconds: ", *p.termination_grace_period_seconds,
                    "\n");
  }
}

// The probes and lifecycle hooks, when set.
void AppendHealth(const NodeContainerSpec& spec, std::string* out) {
  AppendProbe("livenessProbe", spec.liveness_probe, out);
  AppendProbe("readinessProbe", spec.readiness_probe, out);
  AppendProbe("startupProbe", spec.startup_probe, out);
  const controller::Lifecycle& l = spec.lifecycle;
  if (!l.post_start.has_value() && !l.pre_stop.has_value()) return;
  *out += "lifecycle:\n";
  if (l.post_start.has_value()) {
    *out += "  postStart:\n";
    AppendHandler(*l.post_start, "    ", out);
  }
  if (l.pre_stop.has_value()) {
    *out += "  preStop:\n";
    AppendHandler(*l.pre_stop, "    ", out);
  }
}

}  // namespace

std::string YamlScalar(const std::string& s) { return Scalar(s); }

std::string FormatCpu(int64_t millis) {
  return millis % 1000 == 0 ? absl::StrCat(millis / 1000) : absl::StrCat(millis, "m");
}

std::string FormatBytes(int64_t bytes) {
  static const char* const kSuffixes[] = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
  for (int i = 0; i < 6; ++i) {
    const int64_t unit = int64_t{1} << (10 * (6 - i));
    if (bytes != 0 && bytes % unit == 0) return absl::StrCat(bytes / unit, kSuffixes[i]);
  }
  return absl::StrCat(bytes);
}

std::string SpecToYaml(const NodeContainerSpec& spec) {
  std::string out;
  absl::StrAppend(&out, "image: ", Scalar(spec.image), "\n");
  if (spec.image_pull_policy.has_value()) {
    absl::StrAppend(&out, "imagePullPolicy: ", PullPolicyName(*spec.image_pull_policy), "\n");
  }
  if (!spec.image_pull_secrets.empty()) {
    out += "imagePullSecrets:\n";
    for (const std::string& s : spec.image_pull_secrets) {
      absl::StrAppend(&out, "- name: ", Scalar(s), "\n");
    }
  }
  List(&out, "", "command", spec.command);
  List(&out, "", "args", spec.args);
  if (!spec.env.empty()) {
    out += "env:\n";
    for (const controller::EnvVar& e : spec.env) {
      absl::StrAppend(&out, "- name: ", Scalar(e.name), "\n  value: ", Scalar(e.value), "\n");
    }
  }
  if (!spec.working_dir.empty())
    absl::StrAppend(&out, "workingDir: ", Scalar(spec.working_dir), "\n");
  if (spec.run_as_user.has_value()) {
    std::string user = absl::StrCat(*spec.run_as_user);
    if (spec.run_as_group.has_value()) absl::StrAppend(&user, ":", *spec.run_as_group);
    absl::StrAppend(&out, "user: ", Scalar(user), "\n");
  }
  const controller::ResourceLimits& l = spec.limits;
  if (l.cpu_millis > 0 || l.memory_bytes > 0 || l.pids > 0) {
    out += "resources:\n  limits:\n";
    if (l.cpu_millis > 0)
      absl::StrAppend(&out, "    cpu: ", QuantityScalar(FormatCpu(l.cpu_millis)), "\n");
    if (l.memory_bytes > 0) {
      absl::StrAppend(&out, "    memory: ", QuantityScalar(FormatBytes(l.memory_bytes)), "\n");
    }
    if (l.pids > 0) absl::StrAppend(&out, "    pids: ", l.pids, "\n");
  }
  if (!spec.mounts.empty()) {
    out += "mounts:\n";
    for (const controller::Mount& m : spec.mounts) {
      absl::StrAppend(&out, "- mountPath: ", Scalar(m.mount_path), "\n");
      if (m.host_path.has_value()) {
        absl::StrAppend(&out, "  hostPath: {path: ", Scalar(*m.host_path), "}\n");
      }
      if (m.tmpfs_size_bytes.has_value()) {
        if (*m.tmpfs_size_bytes > 0) {
          absl::StrAppend(&out,
                          "  tmpfs: {sizeLimit: ", QuantityScalar(FormatBytes(*m.tmpfs_size_bytes)),
                          "}\n");
        } else {
          out += "  tmpfs: {}\n";
        }
      }
      if (m.read_only) out += "  readOnly: true\n";
    }
  }
  if (spec.restart_policy != RestartPolicy::kAlways) {
    absl::StrAppend(&out, "restartPolicy: ",
                    spec.restart_policy == RestartPolicy::kOnFailure ? "OnFailure" : "Never", "\n");
  }
  if (spec.stop_signal != 15)
    absl::StrAppend(&out, "stopSignal: ", SignalName(spec.stop_signal), "\n");
  if (spec.termination_grace_period_seconds != 30) {
    absl::StrAppend(&out, "terminationGracePeriodSeconds: ", spec.termination_grace_period_seconds,
                    "\n");
  }
  if (!spec.node_name.empty()) absl::StrAppend(&out, "nodeName: ", Scalar(spec.node_name), "\n");
  Map(&out, "", "nodeSelector", spec.node_selector);
  if (spec.host_network) out += "hostNetwork: true\n";
  AppendNetwork(spec, &out);
  AppendHealth(spec, &out);
  return out;
}

}  // namespace berth::api
