// The node's plan: what the reconciler would do for a set of desired
// objects and the containers on the node, as Diff (diff.h) decides it. One
// function for `berthd --dry-run` (records on disk) and the local API's
// Plan (berthctl diff: what runs now), so that both say what the
// reconciler decides (ComputeActions takes the same Decide).
#ifndef BERTH_CONTROLLER_PLAN_H_
#define BERTH_CONTROLLER_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "controller/diff.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// `objects`: desired objects by id, from the sources (those for other
// nodes, by nodeName or nodeSelector against `node_labels`, and those being
// deleted count as not desired). `observed`: the spec-hash annotation of
// each container on the node by id ("" when it has none). A container of an
// earlier release matches by that release's hash (EffectiveObservedHash).
std::vector<PlannedAction> NodePlan(const std::map<std::string, NodeContainer>& objects,
                                    const std::map<std::string, std::string>& observed,
                                    const std::string& node_name,
                                    const std::map<std::string, std::string>& node_labels);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PLAN_H_
