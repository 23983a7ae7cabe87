#include "controller/spec/spec_hash.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/spec/legacy_spec_hash.h"

namespace berth::controller {
namespace {

// FNV-1a, 64 bit: stable across builds and platforms.
uint64_t Fnv1a(absl::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Appends "<name> <value>\n" lines; see CanonicalSpec for the encoding.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::string* out) : out_(*out) {}

  void Str(absl::string_view name, absl::string_view value) {
    absl::StrAppend(&out_, name, " ", value.size(), ":", value, "\n");
  }
  void Int(absl::string_view name, int64_t value) {
    absl::StrAppend(&out_, name, " ", value, "\n");
  }
  void Bool(absl::string_view name, bool value) {
    absl::StrAppend(&out_, name, " ", value ? "true" : "false", "\n");
  }
  template <typename T>
  void OptInt(absl::string_view name, const std::optional<T>& value) {
    if (value.has_value()) {
      Int(name, static_cast<int64_t>(*value));
    } else {
      absl::StrAppend(&out_, name, " -\n");
    }
  }
  void OptStr(absl::string_view name, const std::optional<std::string>& value) {
    if (value.has_value()) {
      Str(name, *value);
    } else {
      absl::StrAppend(&out_, name, " -\n");
    }
  }
  // The list's length, then `each(element_name, element)` for each element.
  template <typename T, typename F>
  void List(absl::string_view name, const std::vector<T>& list, F each) {
    Int(name, static_cast<int64_t>(list.size()));
    for (size_t i = 0; i < list.size(); ++i) each(absl::StrCat(name, "[", i, "]"), list[i]);
  }

 private:
  std::string& out_;
};

// The networking lines of CanonicalSpec (spec_hash.h): empty for a spec
// that does not use those fields, which so keeps the hash it had before
// they existed.
std::string CanonicalNetwork(const NodeContainerSpec& spec) {
  std::string out;
  CanonicalWriter w(&out);
  auto str = [&](const std::string& name, const std::string& s) { w.Str(name, s); };
  std::vector<ContainerPort> published;
  for (const ContainerPort& p : spec.ports) {
    if (p.host_port > 0 && !spec.host_network) published.push_back(p);
  }
  if (!published.empty()) {
    w.List("ports", published, [&](const std::string& name, const ContainerPort& p) {
      w.Int(name + ".containerPort", p.container_port);
      w.Int(name + ".hostPort", p.host_port);
      w.Str(name + ".hostIP", p.host_ip);
      w.Str(name + ".protocol", p.protocol == Protocol::kUdp ? "UDP" : "TCP");
    });
  }
  if (!spec.hostname.empty()) w.Str("hostname", spec.hostname);
  if (spec.dns_policy == DnsPolicy::kNone) w.Str("dnsPolicy", "None");
  if (spec.dns_config.has_value()) {
    w.List("dnsConfig.nameservers", spec.dns_config->nameservers, str);
    w.List("dnsConfig.searches", spec.dns_config->searches, str);
    w.List("dnsConfig.options", spec.dns_config->options,
           [&](const std::string& name, const DnsOption& o) {
             w.Str(name + ".name", o.name);
             w.OptStr(name + ".value", o.value);
           });
  }
  if (!spec.host_aliases.empty()) {
    w.List("hostAliases", spec.host_aliases, [&](const std::string& name, const HostAlias& a) {
      w.Str(name + ".ip", a.ip);
      w.List(name + ".hostnames", a.hostnames, str);
    });
  }
  return out;
}

}  // namespace

std::string CanonicalSpec(const NodeContainerSpec& spec) {
  std::string out = "berth.dev/spec-hash v2\n";
  CanonicalWriter w(&out);
  auto str = [&](const std::string& name, const std::string& s) { w.Str(name, s); };
  w.Str("image", spec.image);
  w.List("command", spec.command, str);
  w.List("args", spec.args, str);
  // As the container gets it: a name given twice is one variable, where it
  // first appeared, with its last value.
  std::vector<EnvVar> env;
  for (const EnvVar& e : spec.env) {
    auto same =
        std::find_if(env.begin(), env.end(), [&](const EnvVar& x) { return x.name == e.name; });
    if (same == env.end()) {
      env.push_back(e);
    } else {
      same->value = e.value;
    }
  }
  w.List("env", env, [&](const std::string& name, const EnvVar& e) {
    w.Str(name + ".name", e.name);
    w.Str(name + ".value", e.value);
  });
  w.Str("workingDir", spec.working_dir);
  w.OptInt("runAsUser", spec.run_as_user);
  w.OptInt("runAsGroup", spec.run_as_group);
  w.Int("limits.cpuMillis", spec.limits.cpu_millis);
  w.Int("limits.memoryBytes", spec.limits.memory_bytes);
  w.Int("limits.pids", spec.limits.pids);
  w.List("mounts", spec.mounts, [&](const std::string& name, const Mount& m) {
    w.Str(name + ".mountPath", m.mount_path);
    w.OptStr(name + ".hostPath", m.host_path);
    // A size means something on a tmpfs only, where unset is 0 (the default).
    w.OptInt(name + ".tmpfsSizeBytes",
             m.host_path.has_value() ? std::nullopt
                                     : std::optional<int64_t>(m.tmpfs_size_bytes.value_or(0)));
    w.Bool(name + ".readOnly", m.read_only);
  });
  w.Int("stopSignal", spec.stop_signal);
  w.Bool("hostNetwork", spec.host_network);
  out += CanonicalNetwork(spec);
  return out;
}

std::string SpecHash(const NodeContainerSpec& spec) {
  return absl::StrFormat("%s%016x", kSpecHashVersionPrefix, Fnv1a(CanonicalSpec(spec)));
}

bool SpecMatches(const NodeContainer& desired, const std::string& observed_hash) {
  if (observed_hash == SpecHash(desired.spec)) return true;
  // v0.1.0 had no networking: a spec that uses it needs a new container
  // whatever its other fields say.
  return IsLegacySpecHash(observed_hash) && CanonicalNetwork(desired.spec).empty() &&
         observed_hash == LegacySpecHash(desired);
}

std::string EffectiveObservedHash(const NodeContainer& desired, const std::string& observed_hash) {
  return SpecMatches(desired, observed_hash) ? SpecHash(desired.spec) : observed_hash;
}

}  // namespace berth::controller
