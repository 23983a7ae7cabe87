// CNI network configuration (https://www.cni.dev/docs/spec/, 1.0.0): which
// network a node uses, what each plugin is given on stdin, and what its
// result and error mean. No process is run here (see cni.h).
#ifndef BERTH_RUNTIME_NETWORK_CNI_CONFIG_H_
#define BERTH_RUNTIME_NETWORK_CNI_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "runtime/container_spec.h"

namespace berth::runtime::network {

// j[key] when it is a string, else "".
std::string StringField(const nlohmann::json& j, const char* key);

// The CNI versions this runtime speaks (Debian's plugins 1.1.1 speak them
// all).
bool IsSupportedCniVersion(absl::string_view version);

// A network configuration list: the plugins to run, in order.
struct CniNetwork {
  std::string name;
  std::string cni_version;
  std::vector<nlohmann::json> plugins;  // objects, each with a "type"
  std::string source;                   // the file it was read from

  // The conflist form ({cniVersion, name, plugins}); FromJson reads it back.
  nlohmann::json ToJson() const;
  // kInvalidArgument naming `source` for anything but a valid conflist, or
  // a single plugin's configuration (a .conf: {cniVersion, name, type, ...}),
  // which becomes a list of one.
  static absl::StatusOr<CniNetwork> FromJson(const nlohmann::json& j, const std::string& source);
};

// The network of `conf_dir` as kubelet and containerd pick it: the first
// file named *.conflist, *.conf or *.json in lexical order that holds a
// valid configuration (invalid ones are skipped with a warning). nullopt
// when the directory has no such file (or does not exist);
// kFailedPrecondition when it has some and none is valid.
absl::StatusOr<std::optional<CniNetwork>> LoadNetwork(const std::string& conf_dir);

// What the plugin `index` of `network` reads on stdin (libcni's
// buildOneConfig): its configuration with the list's name and cniVersion,
// `prev_result` (unless null) and runtimeConfig.portMappings when its
// capabilities include portMappings and `ports` is not empty.
nlohmann::json PluginConfig(const CniNetwork& network, size_t index,
                            const nlohmann::json& prev_result,
                            const std::vector<PortMapping>& ports);

// The container's address in a plugin's result: the first IPv4 address (the
// first of any family if there is none) of the interface `ifname` inside
// the sandbox, or of any interface when the result names none; without the
// prefix length. kInvalidArgument when the result holds no address.
absl::StatusOr<std::string> PrimaryIp(const nlohmann::json& result, absl::string_view ifname);

// The failure of a plugin that exited with `exit_code`, from the CNI error
// on its stdout ({code, msg, details}) or, without one, its stderr:
// "CNI plugin <type> <command>: <msg>: <details> (CNI error <code>)".
// Codes: 11 (try again later) kUnavailable; 1, 2, 4, 6, 7 (version, field,
// environment, decoding, configuration) kFailedPrecondition; 3 (unknown
// container) kNotFound; the rest kInternal.
absl::Status PluginError(absl::string_view type, absl::string_view command, int exit_code,
                         absl::string_view stdout_text, absl::string_view stderr_text);

}  // namespace berth::runtime::network

#endif  // BERTH_RUNTIME_NETWORK_CNI_CONFIG_H_
