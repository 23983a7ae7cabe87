#include "runtime/container_spec.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/names.h"

namespace berth::runtime {
namespace {

absl::Status Bad(const ContainerSpec& spec, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("create container ", spec.id, ": ", field, ": ", why));
}

bool HasNul(absl::string_view s) { return s.find('\0') != absl::string_view::npos; }

// Absolute, no NUL, no ".." component.
std::string PathProblem(absl::string_view path) {
  if (path.empty() || path[0] != '/') return "must be an absolute path";
  if (HasNul(path)) return "contains a NUL byte";
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return "must not contain \"..\"";
  }
  return "";
}

bool IsIp(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// A word of /etc/hosts or /etc/resolv.conf: not empty, no blank or control
// character (which would start another field or line).
bool IsWord(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

// What the files and the CNI plugins are made from.
absl::Status ValidateNetworking(const ContainerSpec& spec) {
  if (!spec.hostname.empty() && (!IsWord(spec.hostname) || spec.hostname.size() > 64)) {
    return Bad(spec, "hostname", "at most 64 characters, no blanks");
  }
  for (const PortMapping& p : spec.ports) {
    const std::string name = absl::StrCat("port ", p.host_port, ":", p.container_port);
    if (p.container_port < 1 || p.container_port > 65535 || p.host_port < 0 ||
        p.host_port > 65535) {
      return Bad(spec, name, "ports must be 1-65535 (hostPort 0: not published)");
    }
    if (p.protocol != "tcp" && p.protocol != "udp") {
      return Bad(spec, name, absl::StrCat("protocol \"", p.protocol, "\" is not tcp or udp"));
    }
    if (!p.host_ip.empty() && !IsIp(p.host_ip)) {
      return Bad(spec, name, absl::StrCat("hostIP \"", p.host_ip, "\" is not an IP address"));
    }
  }
  for (const HostEntry& e : spec.host_aliases) {
    if (!IsIp(e.ip)) {
      return Bad(spec, "hostAliases", absl::StrCat("\"", e.ip, "\" is not an IP address"));
    }
    if (e.hostnames.empty()) return Bad(spec, "hostAliases " + e.ip, "no hostnames");
    for (const std::string& h : e.hostnames) {
      if (!IsWord(h)) return Bad(spec, "hostAliases " + e.ip, "a hostname is empty or has blanks");
    }
  }
  for (const auto& [key, value] : spec.cni_args) {
    if (key.empty() || key.find_first_of("=;") != std::string::npos ||
        value.find(';') != std::string::npos || HasNul(key) || HasNul(value)) {
      return Bad(spec, "cni_args",
                 absl::StrCat("\"", key, "=", value, "\" is not KEY=VALUE without ';'"));
    }
  }
  if (spec.dns.has_value()) {
    for (const std::string& ns : spec.dns->nameservers) {
      if (!IsIp(ns)) return Bad(spec, "dns", absl::StrCat("nameserver \"", ns, "\" is not an IP"));
    }
    for (const auto* list : {&spec.dns->searches, &spec.dns->options}) {
      for (const std::string& w : *list) {
        if (!IsWord(w)) return Bad(spec, "dns", absl::StrCat("\"", w, "\" is empty or has blanks"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* ContainerStateName(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated: return "created";
    case ContainerState::kRunning: return "running";
    case ContainerState::kPaused: return "paused";
    case ContainerState::kStopped: return "stopped";
    case ContainerState::kUnknown: return "unknown";
  }
  return "unknown";
}

absl::Status ValidateContainerSpec(const ContainerSpec& spec) {
  if (absl::Status s = ValidateContainerId(spec.id); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("create container: ", s.message()));
  }
  if (spec.rootfs_layers.empty()) return Bad(spec, "rootfs", "no layers");
  for (const std::string& layer : spec.rootfs_layers) {
    if (std::string p = PathProblem(layer); !p.empty())
      return Bad(spec, "rootfs layer " + layer, p);
    if (absl::StrContains(layer, ",") || absl::StrContains(layer, ":")) {
      return Bad(spec, "rootfs layer " + layer, "must not contain ',' or ':'");
    }
  }
  if (spec.args.empty() || spec.args[0].empty()) return Bad(spec, "args", "no program to run");
  for (const std::string& a : spec.args) {
    if (HasNul(a)) return Bad(spec, "args", "contains a NUL byte");
  }
  for (const std::string& e : spec.env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0)
      return Bad(spec, "env", absl::StrCat("\"", e, "\" is not KEY=VALUE"));
    if (HasNul(e)) return Bad(spec, "env", "contains a NUL byte");
  }
  if (!spec.working_dir.empty()) {
    if (std::string p = PathProblem(spec.working_dir); !p.empty())
      return Bad(spec, "workingDir", p);
  }
  for (const MountSpec& m : spec.mounts) {
    if (std::string p = PathProblem(m.destination); !p.empty()) {
      return Bad(spec, absl::StrCat("mount ", m.destination), p);
    }
    if (m.destination == "/") return Bad(spec, "mount /", "cannot mount over the root");
    if (m.type == MountSpec::Type::kBind) {
      if (std::string p = PathProblem(m.source); !p.empty()) {
        return Bad(spec, absl::StrCat("mount ", m.destination, " source"), p);
      }
    }
    if (m.size_bytes < 0) return Bad(spec, absl::StrCat("mount ", m.destination), "negative size");
  }
  if (spec.stop_signal < 1 || spec.stop_signal > 64) {
    return Bad(spec, "stopSignal", absl::StrCat(spec.stop_signal, " is not a signal (1-64)"));
  }
  if (spec.resources.memory_bytes < 0 || spec.resources.cpu_millis < 0 || spec.resources.pids < 0) {
    return Bad(spec, "resources", "limits must not be negative");
  }
  if (spec.resources.memory_bytes > 0 && spec.resources.memory_bytes < 4096) {
    return Bad(spec, "resources.memory", "below 4096 bytes");
  }
  if (spec.log_max_bytes < 4096) return Bad(spec, "log_max_bytes", "below 4096 bytes");
  if (spec.log_max_files < 1) return Bad(spec, "log_max_files", "must be at least 1");
  return ValidateNetworking(spec);
}

}  // namespace berth::runtime
