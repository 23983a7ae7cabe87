#include "controller/plan.h"

#include "controller/desired_state.h"

namespace berth::controller {

std::vector<PlannedAction> NodePlan(const std::map<std::string, NodeContainer>& objects,
                                    const std::map<std::string, std::string>& observed,
                                    const std::string& node_name,
                                    const std::map<std::string, std::string>& node_labels) {
  std::map<std::string, std::string> desired, effective = observed;
  for (const auto& [id, object] : objects) {
    if (!object.metadata.deletion_timestamp.empty()) continue;
    if (!IsForNode(object, node_name, node_labels)) continue;
    desired[id] = DesiredSpecHash(object);
    if (auto o = effective.find(id); o != effective.end()) {
      o->second = EffectiveObservedHash(object, o->second);
    }
  }
  return Diff(desired, effective);
}

}  // namespace berth::controller
