#include "controller/host_ports.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/desired_state.h"

namespace berth::controller {
namespace {

struct Published {
  const NodeContainer* object;
  const ContainerPort* port;
};

std::string Name(const NodeContainer& o) {
  return absl::StrCat("NodeContainer ", o.metadata.namespace_, "/", o.metadata.name);
}

std::string Address(const ContainerPort& p) {
  return p.host_ip.empty() ? "" : absl::StrCat(" on ", p.host_ip);
}

}  // namespace

std::vector<std::string> HostPortConflicts(const std::map<std::string, NodeContainer>& objects,
                                           const std::string& node_name,
                                           const std::map<std::string, std::string>& node_labels) {
  // Published ports by (port, protocol), each list in the order seen: a
  // port clashes only with one of its own key, and the first such earlier
  // one is named, so the answer is that of comparing every earlier port.
  std::unordered_map<uint64_t, std::vector<Published>> seen;
  std::vector<std::string> out;
  for (const auto& [id, object] : objects) {
    if (!object.metadata.deletion_timestamp.empty()) continue;
    if (object.spec.host_network || !IsForNode(object, node_name, node_labels)) continue;
    for (const ContainerPort& p : object.spec.ports) {
      if (p.host_port == 0) continue;
      const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(p.host_port)) << 8) |
                           static_cast<uint64_t>(p.protocol);
      std::vector<Published>& same = seen[key];
      for (const Published& other : same) {
        const ContainerPort& q = *other.port;
        if (other.object != &object &&
            (q.host_ip == p.host_ip || q.host_ip.empty() || p.host_ip.empty())) {
          out.push_back(absl::StrCat("hostPort ", p.host_port, "/",
                                     p.protocol == Protocol::kUdp ? "UDP" : "TCP", Address(p),
                                     " of ", Name(object), " is also published by ",
                                     Name(*other.object), Address(q)));
          break;
        }
      }
      same.push_back({&object, &p});
    }
  }
  return out;
}

}  // namespace berth::controller
