#include "runtime/network/cni.h"

#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/network/plugin_exec.h"
#include "runtime/sys/process.h"

namespace berth::runtime::network {
namespace {

using nlohmann::json;

std::string ArgsString(const CniAttachment& a) {
  std::string out;
  for (const auto& [k, v] : a.args) absl::StrAppend(&out, out.empty() ? "" : ";", k, "=", v);
  return out;
}

bool AtLeast040(const std::string& version) { return version == "0.4.0" || version == "1.0.0"; }

json PortsJson(const std::vector<PortMapping>& ports) {
  json out = json::array();
  for (const PortMapping& p : ports) {
    out.push_back({{"hostPort", p.host_port},
                   {"containerPort", p.container_port},
                   {"protocol", p.protocol},
                   {"hostIP", p.host_ip}});
  }
  return out;
}

}  // namespace

CniAttachment MakeAttachment(const std::string& container_id, const std::string& netns,
                             const std::vector<std::pair<std::string, std::string>>& args) {
  CniAttachment a;
  a.container_id = container_id;
  a.netns = netns;
  a.args.emplace_back("IgnoreUnknown", "1");
  a.args.insert(a.args.end(), args.begin(), args.end());
  a.args.emplace_back("K8S_POD_INFRA_CONTAINER_ID", container_id);
  return a;
}

absl::StatusOr<std::string> CniClient::FindPlugin(const std::string& type) const {
  for (absl::string_view dir : absl::StrSplit(options_.bin_dirs, ':', absl::SkipEmpty())) {
    const std::string path = absl::StrCat(dir, "/", type);
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("CNI plugin ", type, " not found in ", options_.bin_dirs));
}

absl::StatusOr<json> CniClient::Run(const char* command, const CniNetwork& network, size_t index,
                                    const CniAttachment& a, const json& prev) const {
  const std::string type = StringField(network.plugins[index], "type");
  absl::StatusOr<std::string> path = FindPlugin(type);
  if (!path.ok()) return path.status();
  const std::map<std::string, std::string> env = {
      {"CNI_COMMAND", command},    {"CNI_CONTAINERID", a.container_id},
      {"CNI_NETNS", a.netns},      {"CNI_IFNAME", a.ifname},
      {"CNI_ARGS", ArgsString(a)}, {"CNI_PATH", options_.bin_dirs},
  };
  const json conf = PluginConfig(network, index, prev, a.ports);
  absl::StatusOr<PluginOutput> out = RunPlugin(*path, env, conf.dump(), options_.plugin_timeout);
  if (!out.ok()) {
    return absl::Status(out.status().code(), absl::StrCat("CNI plugin ", type, " ", command, ": ",
                                                          out.status().message()));
  }
  if (out->exit_code != 0) {
    return PluginError(type, command, out->exit_code, out->stdout_text, out->stderr_text);
  }
  if (std::string(command) != "ADD") return json();
  json result = json::parse(out->stdout_text, nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded() || !result.is_object()) {
    return absl::InternalError(
        absl::StrCat("CNI plugin ", type,
                     " ADD: its result is not a JSON object: ", out->stdout_text.substr(0, 512)));
  }
  return result;
}

absl::StatusOr<json> CniClient::Add(const CniNetwork& network, const CniAttachment& a) const {
  json prev;
  for (size_t i = 0; i < network.plugins.size(); ++i) {
    absl::StatusOr<json> result = Run("ADD", network, i, a, prev);
    if (!result.ok()) return result.status();
    prev = *std::move(result);
  }
  return prev;
}

absl::Status CniClient::Check(const CniNetwork& network, const CniAttachment& a,
                              const json& add_result) const {
  if (!AtLeast040(network.cni_version)) {
    return absl::FailedPreconditionError(absl::StrCat("CNI CHECK: network ", network.name,
                                                      " has cniVersion ", network.cni_version,
                                                      ", CHECK needs 0.4.0 or later"));
  }
  for (size_t i = 0; i < network.plugins.size(); ++i) {
    if (absl::StatusOr<json> r = Run("CHECK", network, i, a, add_result); !r.ok()) {
      return r.status();
    }
  }
  return absl::OkStatus();
}

absl::Status CniClient::Del(const CniNetwork& network, const CniAttachment& a,
                            const json& add_result) const {
  // A cached result on DEL came with CNI 0.4.0 (as libcni does it).
  const json prev = AtLeast040(network.cni_version) ? add_result : json();
  absl::Status first;
  for (size_t i = network.plugins.size(); i-- > 0;) {
    absl::StatusOr<json> r = Run("DEL", network, i, a, prev);
    if (!r.ok() && first.ok()) first = r.status();
  }
  return first;
}

absl::Status WriteNetworkCache(const std::string& path, const NetworkCache& cache) {
  const CniAttachment& a = cache.attachment;
  json args = json::array();
  for (const auto& [k, v] : a.args) args.push_back({k, v});
  const json j = {{"version", NetworkCache::kVersion},
                  {"network", cache.network.ToJson()},
                  {"source", cache.network.source},
                  {"containerId", a.container_id},
                  {"netns", a.netns},
                  {"ifName", a.ifname},
                  {"portMappings", PortsJson(a.ports)},
                  {"args", args},
                  {"result", cache.result}};
  return WriteFileAtomic(path, j.dump(), Durability::kAtomic);
}

absl::StatusOr<NetworkCache> ReadNetworkCache(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  auto lost = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("CNI cache ", path, ": ", why));
  };
  json j = json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return lost("not JSON");
  if (j.value("version", 0) != NetworkCache::kVersion) return lost("unknown version");
  NetworkCache cache;
  try {
    absl::StatusOr<CniNetwork> network =
        CniNetwork::FromJson(j.at("network"), j.at("source").get<std::string>());
    if (!network.ok()) return lost(network.status().message());
    cache.network = *std::move(network);
    CniAttachment& a = cache.attachment;
    a.container_id = j.at("containerId").get<std::string>();
    a.netns = j.at("netns").get<std::string>();
    a.ifname = j.at("ifName").get<std::string>();
    for (const json& p : j.at("portMappings")) {
      a.ports.push_back({p.at("hostPort").get<int32_t>(), p.at("containerPort").get<int32_t>(),
                         p.at("protocol").get<std::string>(), p.at("hostIP").get<std::string>()});
    }
    for (const json& kv : j.at("args")) {
      a.args.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
    }
    cache.result = j.at("result");
  } catch (const json::exception& e) {
    return lost(e.what());
  }
  return cache;
}

}  // namespace berth::runtime::network
