#include "controller/diff.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::controller {

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kNoop: return "keep";
    case ActionKind::kCreate: return "create";
    case ActionKind::kRecreate: return "recreate";
    case ActionKind::kDelete: return "delete";
  }
  return "?";
}

PlannedAction Decide(const std::string& id, const std::optional<std::string>& desired_hash,
                     const std::optional<std::string>& observed_hash) {
  if (desired_hash.has_value() && !observed_hash.has_value()) {
    return {ActionKind::kCreate, id, "not on the node"};
  }
  if (!desired_hash.has_value() && observed_hash.has_value()) {
    return {ActionKind::kDelete, id, "no longer desired"};
  }
  if (!desired_hash.has_value()) return {ActionKind::kNoop, id, "neither desired nor present"};
  if (*desired_hash != *observed_hash) {
    return {ActionKind::kRecreate, id,
            absl::StrCat("spec changed (", *observed_hash, " -> ", *desired_hash, ")")};
  }
  return {ActionKind::kNoop, id, "up to date"};
}

std::vector<PlannedAction> Diff(const std::map<std::string, std::string>& desired,
                                const std::map<std::string, std::string>& observed) {
  std::set<std::string> ids;
  for (const auto& [id, h] : desired) ids.insert(id);
  for (const auto& [id, h] : observed) ids.insert(id);
  std::vector<PlannedAction> plan;
  for (const std::string& id : ids) {
    auto d = desired.find(id);
    auto o = observed.find(id);
    plan.push_back(Decide(id, d == desired.end() ? std::nullopt : std::optional(d->second),
                          o == observed.end() ? std::nullopt : std::optional(o->second)));
  }
  return plan;
}

std::string FormatPlan(const std::vector<PlannedAction>& plan) {
  size_t width = 0;
  for (const auto& a : plan) width = std::max(width, a.id.size());
  std::string out;
  for (const auto& a : plan) {
    absl::StrAppendFormat(&out, "%-8s %-*s  (%s)\n", ActionKindName(a.kind),
                          static_cast<int>(width), a.id, a.reason);
  }
  return out;
}

}  // namespace berth::controller
