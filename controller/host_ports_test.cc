#include "controller/host_ports.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

NodeContainer Object(const std::string& name, std::vector<ContainerPort> ports) {
  NodeContainer o;
  o.metadata.name = name;
  o.spec.image = "busybox";
  o.spec.ports = std::move(ports);
  return o;
}

std::map<std::string, NodeContainer> ById(std::vector<NodeContainer> objects) {
  std::map<std::string, NodeContainer> out;
  for (NodeContainer& o : objects) out[ContainerIdFor(o.metadata)] = std::move(o);
  return out;
}

TEST(HostPortsTest, NamesBothContainersOfAClash) {
  auto objects = ById({Object("a", {{"", 80, 8080, "", Protocol::kTcp}}),
                       Object("b", {{"web", 8000, 8080, "127.0.0.1", Protocol::kTcp}})});
  EXPECT_THAT(HostPortConflicts(objects, "node", {}),
              ElementsAre("hostPort 8080/TCP on 127.0.0.1 of NodeContainer default/b is also "
                          "published by NodeContainer default/a"));
}

TEST(HostPortsTest, NoClash) {
  auto objects = ById({
      Object("a", {{"", 80, 8080, "", Protocol::kTcp}, {"", 81, 0, "", Protocol::kTcp}}),
      Object("b", {{"", 80, 8080, "", Protocol::kUdp}}),           // other protocol
      Object("c", {{"", 80, 8081, "127.0.0.1", Protocol::kTcp}}),  // other port
      Object("d", {{"", 80, 8081, "127.0.0.2", Protocol::kTcp}}),  // other address
      Object("e", {{"", 81, 0, "", Protocol::kTcp}}),              // not published
  });
  EXPECT_THAT(HostPortConflicts(objects, "node", {}), IsEmpty());
}

TEST(HostPortsTest, OnlyWhatRunsOnThisNodeOffTheHostNetwork) {
  NodeContainer elsewhere = Object("b", {{"", 80, 8080, "", Protocol::kTcp}});
  elsewhere.spec.node_name = "other";
  NodeContainer deleted = Object("c", {{"", 80, 8080, "", Protocol::kTcp}});
  deleted.metadata.deletion_timestamp = "2026-01-01T00:00:00Z";
  NodeContainer host = Object("d", {{"", 8080, 8080, "", Protocol::kTcp}});
  host.spec.host_network = true;
  auto objects =
      ById({Object("a", {{"", 80, 8080, "", Protocol::kTcp}}), elsewhere, deleted, host});
  EXPECT_THAT(HostPortConflicts(objects, "node", {}), IsEmpty());
  elsewhere.spec.node_name = "node";
  objects = ById({Object("a", {{"", 80, 8080, "", Protocol::kTcp}}), elsewhere});
  EXPECT_THAT(HostPortConflicts(objects, "node", {}), ::testing::SizeIs(1));
}

}  // namespace
}  // namespace berth::controller
