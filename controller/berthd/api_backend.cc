#include "controller/berthd/api_backend.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/oci/runc.h"

namespace berth::berthd {

std::string RuncVersion(const std::string& runc_binary) {
  std::string binary = runc_binary.empty() ? runtime::oci::FindRunc() : runc_binary;
  if (binary.empty() || absl::StrContains(binary, '\'')) return "unknown";
  FILE* out = popen(("'" + binary + "' --version 2>/dev/null").c_str(), "r");
  if (out == nullptr) return "unknown";
  char line[256] = {};
  bool read = fgets(line, sizeof(line), out) != nullptr;
  pclose(out);
  // "runc version 1.1.5+ds1"
  absl::string_view first = absl::StripAsciiWhitespace(line);
  if (!read || !absl::ConsumePrefix(&first, "runc version ")) return "unknown";
  return std::string(first);
}

DaemonApiBackend::DaemonApiBackend(DaemonParts parts)
    : parts_(parts), runc_version_(RuncVersion(parts.config->runc)) {}

api::NodeInfo DaemonApiBackend::Node() const {
  api::NodeInfo node;
  node.node_name = parts_.config->node_name;
  node.mode = parts_.config->cluster_mode() ? "cluster" : "standalone";
  node.runc_version = runc_version_;
  return node;
}

}  // namespace berth::berthd
