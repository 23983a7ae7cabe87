// The pure difference between desired and observed containers.
#ifndef BERTH_CONTROLLER_DIFF_H_
#define BERTH_CONTROLLER_DIFF_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::controller {

enum class ActionKind { kNoop, kCreate, kRecreate, kDelete };
const char* ActionKindName(ActionKind kind);

struct PlannedAction {
  ActionKind kind = ActionKind::kNoop;
  std::string id;
  std::string reason;
};

// What one container needs, from the desired spec hash (nullopt: not
// desired) and the observed container's spec hash (nullopt: not there).
PlannedAction Decide(const std::string& id, const std::optional<std::string>& desired_hash,
                     const std::optional<std::string>& observed_hash);

// Decide for every id in either map (maps of id -> spec hash), ordered by id.
std::vector<PlannedAction> Diff(const std::map<std::string, std::string>& desired,
                                const std::map<std::string, std::string>& observed);

// One line per action: "create   default.web  (reason)".
std::string FormatPlan(const std::vector<PlannedAction>& plan);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_DIFF_H_
