// A CNI runtime (https://www.cni.dev/docs/spec/, 1.0.0): runs a network's
// plugins to attach a container's network namespace (ADD), check it
// (CHECK) and detach it (DEL), and keeps on disk what DEL needs later.
#ifndef BERTH_RUNTIME_NETWORK_CNI_H_
#define BERTH_RUNTIME_NETWORK_CNI_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "runtime/container_spec.h"
#include "runtime/network/cni_config.h"

namespace berth::runtime::network {

// One container's attachment to a network: the CNI parameters.
struct CniAttachment {
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS: the namespace's path
  std::string ifname = "eth0";
  std::vector<PortMapping> ports;  // runtimeConfig.portMappings
  // CNI_ARGS, "K=V;K=V" in this order ("IgnoreUnknown=1" goes first).
  std::vector<std::pair<std::string, std::string>> args;
};

// The attachment of container `container_id` through the namespace file
// `netns` (ifname eth0, no ports), with CNI_ARGS as containerd's CRI passes
// them: IgnoreUnknown=1 first (a plugin refuses keys it does not know
// without it), then `args` in order (the caller's: K8S_POD_NAMESPACE,
// K8S_POD_NAME), then K8S_POD_INFRA_CONTAINER_ID=<container_id>.
CniAttachment MakeAttachment(const std::string& container_id, const std::string& netns,
                             const std::vector<std::pair<std::string, std::string>>& args);

struct CniOptions {
  std::string bin_dirs = "/usr/lib/cni";  // ':'-separated, CNI_PATH
  // Per plugin call; the plugin (its process group) is killed after it.
  absl::Duration plugin_timeout = absl::Seconds(30);
};

// Stateless and thread-safe; every call runs the plugins to their end.
class CniClient {
 public:
  explicit CniClient(CniOptions options) : options_(std::move(options)) {}

  // ADD through every plugin in order, each given the previous one's result;
  // returns the last result. Stops at the first failure (the caller runs
  // DEL to undo what the earlier plugins did, as kubelet does).
  absl::StatusOr<nlohmann::json> Add(const CniNetwork& network, const CniAttachment& a) const;
  // CHECK through every plugin in order with the ADD result as prevResult;
  // kFailedPrecondition for a network older than CNI 0.4.0.
  absl::Status Check(const CniNetwork& network, const CniAttachment& a,
                     const nlohmann::json& add_result) const;
  // DEL through every plugin in reverse order, each given the ADD result
  // (null when unknown); all are run, the first failure is returned. The
  // plugins tolerate a namespace that is gone and a second DEL.
  absl::Status Del(const CniNetwork& network, const CniAttachment& a,
                   const nlohmann::json& add_result) const;

  // The plugin binary `type` in the bin dirs; kFailedPrecondition when
  // there is none.
  absl::StatusOr<std::string> FindPlugin(const std::string& type) const;

 private:
  absl::StatusOr<nlohmann::json> Run(const char* command, const CniNetwork& network, size_t index,
                                     const CniAttachment& a, const nlohmann::json& prev) const;

  CniOptions options_;
};

// What DEL needs after a restart (libcni's /var/lib/cni/results): the
// network as it was at ADD, the attachment and the ADD result (null until
// ADD succeeded). Written before ADD so that a crash during it is undone.
struct NetworkCache {
  static constexpr int kVersion = 1;
  CniNetwork network;
  CniAttachment attachment;
  nlohmann::json result;  // null: ADD did not finish
};

// Atomic against a crash.
absl::Status WriteNetworkCache(const std::string& path, const NetworkCache& cache);
// kNotFound without a file; kDataLoss when unreadable.
absl::StatusOr<NetworkCache> ReadNetworkCache(const std::string& path);

}  // namespace berth::runtime::network

#endif  // BERTH_RUNTIME_NETWORK_CNI_H_
