#include "controller/plan.h"

#include "controller/desired_state.h"
#include "controller/spec/legacy_spec_hash.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

NodeContainer Object(const std::string& name, const std::string& node_name = "") {
  NodeContainer o;
  o.metadata.name = name;
  o.spec.image = "busybox";
  o.spec.node_name = node_name;
  return o;
}

TEST(NodePlanTest, DesiredForThisNodeAgainstWhatRuns) {
  std::map<std::string, NodeContainer> objects = {
      {"default.new", Object("new")},         {"default.same", Object("same")},
      {"default.changed", Object("changed")}, {"default.elsewhere", Object("elsewhere", "node-b")},
      {"default.old", Object("old")},         {"default.going", Object("going")},
  };
  objects["default.going"].metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  NodeContainer before = Object("changed");
  before.spec.command = {"sleep", "1"};
  const std::map<std::string, std::string> observed = {
      {"default.same", DesiredSpecHash(objects["default.same"])},
      {"default.changed", DesiredSpecHash(before)},
      {"default.elsewhere", DesiredSpecHash(objects["default.elsewhere"])},
      {"default.old", LegacySpecHash(objects["default.old"])},  // an earlier release's
      {"default.going", DesiredSpecHash(objects["default.going"])},
      {"default.orphan", ""},
  };
  std::string got;
  for (const PlannedAction& a : NodePlan(objects, observed, "node-a", {})) {
    got += std::string(ActionKindName(a.kind)) + " " + a.id + "\n";
  }
  EXPECT_EQ(got,
            "recreate default.changed\n"
            "delete default.elsewhere\n"
            "delete default.going\n"
            "create default.new\n"
            "keep default.old\n"
            "delete default.orphan\n"
            "keep default.same\n");
}

}  // namespace
}  // namespace berth::controller
