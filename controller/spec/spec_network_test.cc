#include "controller/spec/spec_network.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "controller/spec/spec_parser.h"
#include "controller/spec/testing/spec_parser_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using test_util::ReadFile;
using test_util::TestdataPath;
using test_util::WithSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string Errors(const ParseResult& r) {
  std::vector<std::string> lines;
  for (const ParseError& e : r.errors) lines.push_back(e.ToString());
  return absl::StrJoin(lines, "\n");
}

// The errors of a spec with `extra` appended ("" when it parses).
std::string ErrorsOf(const std::string& extra) {
  return Errors(ParseManifests(WithSpec(extra), "f"));
}

NodeContainerSpec Parse(const std::string& extra) {
  ParseResult r = ParseManifests(WithSpec(extra), "f");
  EXPECT_THAT(r.errors, IsEmpty()) << Errors(r);
  return r.objects.empty() ? NodeContainerSpec{} : r.objects[0].spec;
}

TEST(SpecNetworkTest, ReadsEveryField) {
  ParseResult r = ParseManifests(ReadFile(TestdataPath("good/network.yaml")), "network.yaml");
  ASSERT_THAT(r.errors, IsEmpty()) << Errors(r);
  ASSERT_THAT(r.objects, SizeIs(1));
  const NodeContainerSpec& s = r.objects[0].spec;
  ASSERT_THAT(s.ports, SizeIs(3));
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].container_port, 8080);
  EXPECT_EQ(s.ports[0].host_port, 18080);
  EXPECT_EQ(s.ports[0].host_ip, "");
  EXPECT_EQ(s.ports[0].protocol, Protocol::kTcp);
  EXPECT_EQ(s.ports[1].host_ip, "::1");
  EXPECT_EQ(s.ports[1].protocol, Protocol::kUdp);
  EXPECT_EQ(s.ports[2].name, "");
  EXPECT_EQ(s.ports[2].host_ip, "127.0.0.1");
  EXPECT_EQ(s.hostname, "web-1");
  EXPECT_EQ(s.dns_policy, DnsPolicy::kNone);
  ASSERT_TRUE(s.dns_config.has_value());
  EXPECT_THAT(s.dns_config->nameservers, ElementsAre("192.0.2.53", "2001:db8::53"));
  EXPECT_THAT(s.dns_config->searches, ElementsAre("example.com", "svc.example.com."));
  ASSERT_THAT(s.dns_config->options, SizeIs(2));
  EXPECT_EQ(s.dns_config->options[0].name, "ndots");
  EXPECT_EQ(s.dns_config->options[0].value, "2");
  EXPECT_EQ(s.dns_config->options[1].name, "edns0");
  EXPECT_FALSE(s.dns_config->options[1].value.has_value());
  ASSERT_THAT(s.host_aliases, SizeIs(1));
  EXPECT_EQ(s.host_aliases[0].ip, "192.0.2.10");
  EXPECT_THAT(s.host_aliases[0].hostnames, ElementsAre("db", "db.example.com"));
}

TEST(SpecNetworkTest, DefaultsWhenAbsent) {
  NodeContainerSpec s = Parse("");
  EXPECT_THAT(s.ports, IsEmpty());
  EXPECT_EQ(s.hostname, "");
  EXPECT_EQ(s.dns_policy, DnsPolicy::kDefault);
  EXPECT_FALSE(s.dns_config.has_value());
  EXPECT_THAT(s.host_aliases, IsEmpty());
  EXPECT_EQ(Parse("  dnsPolicy: Default\n").dns_policy, DnsPolicy::kDefault);
}

TEST(SpecNetworkTest, PortBounds) {
  EXPECT_EQ(ErrorsOf("  ports: [{containerPort: 1}, {containerPort: 65535, hostPort: 65535}]\n"),
            "");
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 0}]\n"),
              HasSubstr("spec.ports[0].containerPort: must be between 1 and 65535, got 0"));
  EXPECT_THAT(ErrorsOf("  ports: [{hostPort: 80}]\n"),
              HasSubstr("spec.ports[0].containerPort: required field is missing"));
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, hostPort: -1}]\n"),
              HasSubstr("spec.ports[0].hostPort: must not be negative"));
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, hostPort: 65536}]\n"),
              HasSubstr("spec.ports[0].hostPort: must be between 0 and 65535"));
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: \"80\"}]\n"),
              HasSubstr("spec.ports[0].containerPort: expected an integer, got a string"));
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, protocol: tcp}]\n"),
              HasSubstr("unknown protocol \"tcp\" (accepted: TCP, UDP)"));
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, hostIP: localhost}]\n"),
              HasSubstr("spec.ports[0].hostIP: must be a valid IP address, got \"localhost\""));
  EXPECT_THAT(ErrorsOf("  ports: {containerPort: 80}\n"),
              HasSubstr("spec.ports: expected a sequence, got a mapping"));
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, port: 1}]\n"),
              HasSubstr("spec.ports[0].port: unknown field"));
}

TEST(SpecNetworkTest, PortNames) {
  for (const std::string good : {"http", "h", "web-8080", "80-http", "abcdefghijklmno"}) {
    EXPECT_TRUE(IsPortName(good)) << good;
  }
  for (const std::string bad :
       {"", "8080", "Http", "http_1", "-http", "http-", "ht--tp", "abcdefghijklmnop", "h.t"}) {
    EXPECT_FALSE(IsPortName(bad)) << bad;
  }
  EXPECT_THAT(ErrorsOf("  ports: [{name: web, containerPort: 80}, "
                       "{name: web, containerPort: 81}]\n"),
              HasSubstr("spec.ports[1].name: duplicate port name \"web\" (also spec.ports[0])"));
}

TEST(SpecNetworkTest, DuplicatePorts) {
  // Same number, other protocol: fine (DNS on 53/TCP and 53/UDP).
  EXPECT_EQ(ErrorsOf("  ports: [{containerPort: 53, hostPort: 53}, "
                     "{containerPort: 53, hostPort: 53, protocol: UDP}]\n"),
            "");
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 53, protocol: UDP}, "
                       "{containerPort: 53, protocol: UDP}]\n"),
              HasSubstr("spec.ports[1].containerPort: duplicate port 53/UDP"));
  // One host port on two distinct addresses: fine; on every address and on
  // one of them: a clash.
  EXPECT_EQ(ErrorsOf("  ports: [{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}, "
                     "{containerPort: 81, hostPort: 8080, hostIP: 127.0.0.2}]\n"),
            "");
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}, "
                       "{containerPort: 81, hostPort: 8080}]\n"),
              HasSubstr("spec.ports[1].hostPort: duplicate host port 8080/TCP"));
  // hostPort 0 is "not published": never a clash.
  EXPECT_EQ(ErrorsOf("  ports: [{containerPort: 80, hostPort: 0}, {containerPort: 81}]\n"), "");
}

TEST(SpecNetworkTest, Sctp) {
  EXPECT_THAT(ErrorsOf("  ports: [{containerPort: 80, protocol: SCTP}]\n"),
              HasSubstr("SCTP is not supported (Berth publishes ports with the CNI portmap"));
}

TEST(SpecNetworkTest, Hostname) {
  EXPECT_EQ(Parse("  hostname: a-1\n").hostname, "a-1");
  EXPECT_THAT(ErrorsOf("  hostname: A\n"), HasSubstr("spec.hostname: invalid hostname \"A\""));
  EXPECT_THAT(ErrorsOf("  hostname: \"\"\n"), HasSubstr("spec.hostname: invalid hostname"));
  EXPECT_THAT(ErrorsOf("  hostname: " + std::string(64, 'a') + "\n"),
              HasSubstr("spec.hostname: invalid hostname"));
}

TEST(SpecNetworkTest, DnsPolicyAndConfig) {
  EXPECT_THAT(ErrorsOf("  dnsPolicy: ClusterFirstWithHostNet\n"),
              HasSubstr("a node has no cluster DNS (accepted: Default"));
  EXPECT_THAT(ErrorsOf("  dnsPolicy: Cluster\n"),
              HasSubstr("unknown dnsPolicy \"Cluster\" (accepted: Default, None)"));
  EXPECT_THAT(ErrorsOf("  dnsPolicy: None\n  dnsConfig: {searches: [a.b]}\n"),
              HasSubstr("spec.dnsConfig.nameservers: must give at least one nameserver"));
  EXPECT_THAT(ErrorsOf("  dnsConfig: {nameservers: [192.0.2.1]}\n"),
              HasSubstr("spec.dnsConfig: is used only with dnsPolicy: None"));
  const std::string none = "  dnsPolicy: None\n";
  EXPECT_THAT(ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4]}\n"),
              HasSubstr("spec.dnsConfig.nameservers: must have at most 3 items, got 4"));
  EXPECT_THAT(ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1, dns.example]}\n"),
              HasSubstr("spec.dnsConfig.nameservers[1]: must be a valid IP address"));
  std::string searches;
  for (int i = 0; i < 33; ++i) searches += "s" + std::to_string(i) + ".example,";
  EXPECT_THAT(
      ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1], searches: [" + searches + "]}\n"),
      HasSubstr("spec.dnsConfig.searches: must have at most 32 items, got 33"));
  std::string long_searches;
  for (int i = 0; i < 10; ++i) long_searches += std::string(250, 'a') + ",";
  EXPECT_THAT(
      ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1], searches: [" + long_searches + "]}\n"),
      HasSubstr("must have at most 2048 characters in all"));
  EXPECT_THAT(ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1], searches: [Bad_Domain]}\n"),
              HasSubstr("spec.dnsConfig.searches[0]: invalid search domain"));
  EXPECT_THAT(ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1], options: [{value: x}]}\n"),
              HasSubstr("spec.dnsConfig.options[0].name: required field is missing"));
  EXPECT_THAT(ErrorsOf(none + "  dnsConfig: {nameservers: [1.1.1.1], options: [{name: \"\"}]}\n"),
              HasSubstr("spec.dnsConfig.options[0].name: must not be empty"));
}

TEST(SpecNetworkTest, HostAliases) {
  EXPECT_THAT(ErrorsOf("  hostAliases: [{ip: 10.0.0.1}]\n"),
              HasSubstr("spec.hostAliases[0].hostnames: required field is missing"));
  EXPECT_THAT(ErrorsOf("  hostAliases: [{ip: 10.0.0.1, hostnames: []}]\n"),
              HasSubstr("spec.hostAliases[0].hostnames: must have at least one hostname"));
  EXPECT_THAT(ErrorsOf("  hostAliases: [{ip: 10.0.0.1, hostnames: [UPPER]}]\n"),
              HasSubstr("spec.hostAliases[0].hostnames[0]: invalid hostname \"UPPER\""));
  EXPECT_THAT(ErrorsOf("  hostAliases: [{ip: 10.0.0.1, hostnames: [a]}, "
                       "{ip: 10.0.0.1, hostnames: [b]}]\n"),
              HasSubstr("spec.hostAliases[1].ip: duplicate ip \"10.0.0.1\""));
}

// On the host network the container shares the node's network, name and
// files: ports are informational, the rest would have no effect.
TEST(SpecNetworkTest, HostNetwork) {
  NodeContainerSpec s = Parse(
      "  hostNetwork: true\n  ports: [{containerPort: 80}, {containerPort: 81, "
      "hostPort: 81}]\n");
  EXPECT_THAT(s.ports, SizeIs(2));
  EXPECT_THAT(ErrorsOf("  hostNetwork: true\n  ports: [{containerPort: 80, hostPort: 8080}]\n"),
              HasSubstr("spec.ports[0].hostPort: must equal containerPort (80) with hostNetwork"));
  EXPECT_THAT(ErrorsOf("  hostNetwork: true\n  hostname: web\n"),
              HasSubstr("spec.hostname: has no effect with hostNetwork: true"));
  EXPECT_THAT(ErrorsOf("  hostNetwork: true\n  hostAliases: [{ip: 10.0.0.1, hostnames: [a]}]\n"),
              HasSubstr("spec.hostAliases: has no effect with hostNetwork: true"));
  EXPECT_THAT(
      ErrorsOf("  hostNetwork: true\n  dnsPolicy: None\n  dnsConfig: {nameservers: [1.1.1.1]}\n"),
      HasSubstr("spec.dnsConfig: has no effect with hostNetwork: true"));
  EXPECT_EQ(ErrorsOf("  hostNetwork: true\n  dnsPolicy: Default\n"), "");
}

TEST(SpecNetworkTest, IpAddresses) {
  for (const std::string good : {"10.89.0.1", "0.0.0.0", "::", "::1", "2001:db8::1"}) {
    EXPECT_TRUE(IsIpAddress(good)) << good;
  }
  for (const std::string bad :
       {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "a::g", " ::1", "fe80::1%eth0"}) {
    EXPECT_FALSE(IsIpAddress(bad)) << bad;
  }
}

}  // namespace
}  // namespace berth::controller
