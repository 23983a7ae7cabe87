#include "runtime/network/cni_config.h"

#include <dirent.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime::network {
namespace {

using nlohmann::json;

constexpr const char* kVersions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};

bool IsConfigFile(absl::string_view name) {
  return absl::EndsWith(name, ".conflist") || absl::EndsWith(name, ".conf") ||
         absl::EndsWith(name, ".json");
}

absl::Status Invalid(const std::string& source, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("CNI network config ", source, ": ", why));
}

json PortMappingsJson(const std::vector<PortMapping>& ports) {
  json out = json::array();
  for (const PortMapping& p : ports) {
    json m = {{"hostPort", p.host_port},
              {"containerPort", p.container_port},
              {"protocol", p.protocol.empty() ? "tcp" : p.protocol}};
    if (!p.host_ip.empty()) m["hostIP"] = p.host_ip;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

std::string StringField(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool IsSupportedCniVersion(absl::string_view version) {
  return std::find(std::begin(kVersions), std::end(kVersions), version) != std::end(kVersions);
}

json CniNetwork::ToJson() const {
  return {{"cniVersion", cni_version}, {"name", name}, {"plugins", plugins}};
}

absl::StatusOr<CniNetwork> CniNetwork::FromJson(const json& j, const std::string& source) {
  if (!j.is_object()) return Invalid(source, "not a JSON object");
  CniNetwork n;
  n.source = source;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty()) {
    return Invalid(source, "no \"name\"");
  }
  n.name = j["name"].get<std::string>();
  n.cni_version = StringField(j, "cniVersion");
  if (!IsSupportedCniVersion(n.cni_version)) {
    return Invalid(source, absl::StrCat("cniVersion \"", n.cni_version,
                                        "\" is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0"));
  }
  if (j.contains("plugins")) {
    if (!j["plugins"].is_array() || j["plugins"].empty()) {
      return Invalid(source, "\"plugins\" is not a list of plugins");
    }
    for (const json& p : j["plugins"]) n.plugins.push_back(p);
  } else if (j.contains("type")) {
    n.plugins.push_back(j);  // a single plugin's configuration
  } else {
    return Invalid(source, "neither \"plugins\" nor \"type\"");
  }
  for (const json& p : n.plugins) {
    if (!p.is_object() || !p.contains("type") || !p["type"].is_string() ||
        p["type"].get<std::string>().empty() ||
        absl::StrContains(p["type"].get<std::string>(), '/')) {
      return Invalid(source, "a plugin without a valid \"type\"");
    }
  }
  return n;
}

absl::StatusOr<std::optional<CniNetwork>> LoadNetwork(const std::string& conf_dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(conf_dir.c_str()); d != nullptr) {
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.' && IsConfigFile(e->d_name)) names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string first_error;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(conf_dir, "/", name);
    absl::StatusOr<std::string> content = ReadFile(path);
    absl::StatusOr<CniNetwork> network = absl::UnknownError("unread");
    if (content.ok()) {
      json j = json::parse(*content, nullptr, /*allow_exceptions=*/false);
      network = j.is_discarded() ? Invalid(path, "not JSON") : CniNetwork::FromJson(j, path);
    } else {
      network = content.status();
    }
    if (network.ok()) return std::optional<CniNetwork>(*std::move(network));
    spdlog::warn("skipping {}", std::string(network.status().message()));
    if (first_error.empty()) first_error = std::string(network.status().message());
  }
  if (names.empty()) return std::optional<CniNetwork>();
  return absl::FailedPreconditionError(
      absl::StrCat("no valid CNI network config in ", conf_dir, ": ", first_error));
}

json PluginConfig(const CniNetwork& network, size_t index, const json& prev_result,
                  const std::vector<PortMapping>& ports) {
  json conf = network.plugins.at(index);
  conf["name"] = network.name;
  conf["cniVersion"] = network.cni_version;
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  const auto caps = conf.find("capabilities");
  const bool wants_ports = caps != conf.end() && caps->is_object() &&
                           caps->contains("portMappings") && (*caps)["portMappings"].is_boolean() &&
                           (*caps)["portMappings"].get<bool>();
  if (!ports.empty() && wants_ports) {
    conf["runtimeConfig"]["portMappings"] = PortMappingsJson(ports);
  }
  return conf;
}

absl::StatusOr<std::string> PrimaryIp(const json& result, absl::string_view ifname) {
  // The interfaces inside the sandbox called `ifname`, by index.
  std::vector<bool> ours;
  if (result.contains("interfaces") && result["interfaces"].is_array()) {
    for (const json& i : result["interfaces"]) {
      ours.push_back(StringField(i, "name") == ifname && !StringField(i, "sandbox").empty());
    }
  }
  std::string any, v4;
  if (result.contains("ips") && result["ips"].is_array()) {
    for (const json& ip : result["ips"]) {
      if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string()) continue;
      if (ip.contains("interface") && ip["interface"].is_number_integer()) {
        const int64_t i = ip["interface"].get<int64_t>();
        if (i >= 0 && static_cast<size_t>(i) < ours.size() && !ours[i]) continue;
      }
      std::string address = ip["address"].get<std::string>();
      address = address.substr(0, address.find('/'));
      if (any.empty()) any = address;
      if (v4.empty() && !absl::StrContains(address, ':')) v4 = address;
    }
  }
  if (!v4.empty()) return v4;
  if (!any.empty()) return any;
  return absl::InvalidArgumentError("CNI result holds no IP address");
}

absl::Status PluginError(absl::string_view type, absl::string_view command, int exit_code,
                         absl::string_view stdout_text, absl::string_view stderr_text) {
  const std::string what = absl::StrCat("CNI plugin ", type, " ", command);
  json j = json::parse(stdout_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("code") || !j["code"].is_number_integer()) {
    std::string text(absl::StripAsciiWhitespace(stderr_text));
    if (text.empty()) text = std::string(absl::StripAsciiWhitespace(stdout_text));
    if (text.size() > 4096) text.resize(4096);
    return absl::InternalError(
        absl::StrCat(what, ": exit status ", exit_code, text.empty() ? "" : ": ", text));
  }
  const int code = j["code"].get<int>();
  std::string msg = StringField(j, "msg");
  std::string message = absl::StrCat(what, ": ", msg.empty() ? "failed" : msg);
  if (const std::string details = StringField(j, "details"); !details.empty()) {
    absl::StrAppend(&message, ": ", details);
  }
  absl::StrAppend(&message, " (CNI error ", code, ")");
  switch (code) {
    case 11: return absl::UnavailableError(message);
    case 1:
    case 2:
    case 4:
    case 6:
    case 7: return absl::FailedPreconditionError(message);
    case 3: return absl::NotFoundError(message);
    default: return absl::InternalError(message);
  }
}

}  // namespace berth::runtime::network
