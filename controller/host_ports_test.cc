#include "controller/host_ports.h"

#include <random>

#include "absl/strings/str_cat.h"

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

// Every earlier port compared, as the plain definition says: what the
// indexed search must answer, message for message.
std::vector<std::string> EveryPairConflicts(const std::map<std::string, NodeContainer>& objects) {
  std::vector<std::pair<const NodeContainer*, const ContainerPort*>> seen;
  std::vector<std::string> out;
  for (const auto& [id, o] : objects) {
    for (const ContainerPort& p : o.spec.ports) {
      if (p.host_port == 0) continue;
      for (const auto& [other, q] : seen) {
        if (other != &o && q->host_port == p.host_port && q->protocol == p.protocol &&
            (q->host_ip == p.host_ip || q->host_ip.empty() || p.host_ip.empty())) {
          out.push_back(absl::StrCat(
              "hostPort ", p.host_port, "/", p.protocol == Protocol::kUdp ? "UDP" : "TCP",
              p.host_ip.empty() ? "" : absl::StrCat(" on ", p.host_ip), " of NodeContainer ",
              o.metadata.namespace_, "/", o.metadata.name, " is also published by NodeContainer ",
              other->metadata.namespace_, "/", other->metadata.name,
              q->host_ip.empty() ? "" : absl::StrCat(" on ", q->host_ip)));
          break;
        }
      }
      seen.emplace_back(&o, &p);
    }
  }
  return out;
}

TEST(HostPortsTest, SameAnswerAsComparingEveryPair) {
  std::mt19937 rng(20261204);
  for (int round = 0; round < 20; ++round) {
    std::vector<NodeContainer> objects;
    for (int i = 0; i < 200; ++i) {
      std::vector<ContainerPort> ports;
      for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
        const char* ips[] = {"", "", "127.0.0.1", "127.0.0.2"};
        ports.push_back({"", 80, static_cast<int32_t>(rng() % 3 == 0 ? 0 : 8000 + rng() % 40),
                         ips[rng() % 4], rng() % 3 == 0 ? Protocol::kUdp : Protocol::kTcp});
      }
      objects.push_back(Object(absl::StrCat("c", i), std::move(ports)));
    }
    auto by_id = ById(std::move(objects));
    std::vector<std::string> want = EveryPairConflicts(by_id);
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(HostPortConflicts(by_id, "node", {}), want) << "round " << round;
  }
}

}  // namespace
}  // namespace berth::controller
