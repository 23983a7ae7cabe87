// Host ports two desired containers on this node both publish: the runtime
// refuses the second create (the port is taken), and `berthd --dry-run`
// reports the clash ahead, naming both.
#ifndef BERTH_CONTROLLER_HOST_PORTS_H_
#define BERTH_CONTROLLER_HOST_PORTS_H_

#include <map>
#include <string>
#include <vector>

#include "controller/spec/node_container.h"

namespace berth::controller {

// One message per clash among the objects desired on the node (IsForNode,
// not being deleted, not on the host network): two published ports
// (hostPort set) of distinct objects with the same hostPort and protocol on
// overlapping hostIPs (equal, or either empty: every address). In order of
// the objects' ids: "hostPort 8080/TCP of NodeContainer default/b is also
// published by NodeContainer default/a". A clash within one spec is the
// parser's (spec_network.h).
std::vector<std::string> HostPortConflicts(const std::map<std::string, NodeContainer>& objects,
                                           const std::string& node_name,
                                           const std::map<std::string, std::string>& node_labels);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_HOST_PORTS_H_
