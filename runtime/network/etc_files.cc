#include "runtime/network/etc_files.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/sys/process.h"

namespace berth::runtime::network {

std::string ContainerHostname(const ContainerSpec& spec) {
  return spec.hostname.empty() ? spec.id.substr(0, spec.id.find('.')) : spec.hostname;
}

std::string HostsFileContent(const ContainerSpec& spec, const std::string& ip) {
  std::string out = kHostsHeader;
  absl::StrAppend(&out,
                  "127.0.0.1\tlocalhost\n"
                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                  "fe00::0\tip6-localnet\n"
                  "fe00::0\tip6-mcastprefix\n"
                  "fe00::1\tip6-allnodes\n"
                  "fe00::2\tip6-allrouters\n");
  if (!ip.empty()) absl::StrAppend(&out, ip, "\t", ContainerHostname(spec), "\n");
  if (!spec.host_aliases.empty()) {
    absl::StrAppend(&out, "\n# Entries added by hostAliases.\n");
    for (const HostEntry& e : spec.host_aliases) {
      absl::StrAppend(&out, e.ip, "\t", absl::StrJoin(e.hostnames, "\t"), "\n");
    }
  }
  return out;
}

std::string ResolvConfContent(const ContainerSpec& spec, const std::string& node_resolv) {
  if (!spec.dns.has_value()) return node_resolv;
  std::string out;
  for (const std::string& ns : spec.dns->nameservers)
    absl::StrAppend(&out, "nameserver ", ns, "\n");
  if (!spec.dns->searches.empty()) {
    absl::StrAppend(&out, "search ", absl::StrJoin(spec.dns->searches, " "), "\n");
  }
  if (!spec.dns->options.empty()) {
    absl::StrAppend(&out, "options ", absl::StrJoin(spec.dns->options, " "), "\n");
  }
  return out;
}

absl::Status WriteEtcFiles(const std::string& dir, const ContainerSpec& spec, const std::string& ip,
                           const std::string& node_resolv_path) {
  if (absl::Status s = MakeDirs(dir, 0755); !s.ok()) return s;
  std::string node_resolv;
  if (!spec.dns.has_value()) {
    absl::StatusOr<std::string> read = ReadFile(node_resolv_path);
    if (read.ok()) {
      node_resolv = *std::move(read);
    } else if (!absl::IsNotFound(read.status())) {
      return read.status();
    }
  }
  const std::pair<const char*, std::string> files[] = {
      {"hostname", ContainerHostname(spec) + "\n"},
      {"hosts", HostsFileContent(spec, ip)},
      {"resolv.conf", ResolvConfContent(spec, node_resolv)},
  };
  for (const auto& [name, content] : files) {
    if (absl::Status s =
            WriteFileAtomic(absl::StrCat(dir, "/", name), content, Durability::kAtomic);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::runtime::network
