#include "controller/api/spec_yaml.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "controller/sources/manifest_source.h"
#include "controller/spec/spec_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

using controller::NodeContainer;

// Parses `spec` (the mapping's text) as a manifest's spec.
NodeContainer Parse(const std::string& spec) {
  std::string indented = "  " + absl::StrReplaceAll(spec, {{"\n", "\n  "}});
  controller::ParseResult r = controller::ParseManifests(
      absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata: {name: web}\n"
                   "spec:\n",
                   indented),
      "t.yaml");
  EXPECT_TRUE(r.errors.empty()) << r.errors[0].ToString() << "\n" << spec;
  return r.objects.empty() ? NodeContainer() : r.objects[0];
}

TEST(SpecYamlTest, QuantitiesInCanonicalForm) {
  EXPECT_EQ(FormatCpu(250), "250m");
  EXPECT_EQ(FormatCpu(2000), "2");
  EXPECT_EQ(FormatCpu(1500), "1500m");
  EXPECT_EQ(FormatBytes(32 << 20), "32Mi");
  EXPECT_EQ(FormatBytes(int64_t{3} << 30), "3Gi");
  EXPECT_EQ(FormatBytes(1536), "1536");
  EXPECT_EQ(FormatBytes(1000000), "1000000");
}

TEST(SpecYamlTest, AMinimalSpecIsItsImage) {
  EXPECT_EQ(SpecToYaml(Parse("image: busybox\n").spec), "image: busybox\n");
}

TEST(SpecYamlTest, EveryFieldRoundTrips) {
  const std::string spec = R"(image: "registry.local:5000/app@sha256:0123"
imagePullPolicy: IfNotPresent
imagePullSecrets: [{name: regcred}]
command: [httpd, -f, -p, "8080"]
args: ["yes", "", "a \"quoted\" word", "line\nbreak", "true", "0x1f", "null", "#x", "a: b"]
env: [{name: A, value: "1"}, {name: B, value: "on"}, {name: C, value: ""}]
workingDir: /var/www
user: "1000:2000"
resources: {limits: {cpu: "1.5", memory: 64Mi, pids: 64}}
mounts:
- {mountPath: /data, hostPath: {path: /srv/data}, readOnly: true}
- {mountPath: /tmp, tmpfs: {sizeLimit: 16Mi}}
- {mountPath: /run, tmpfs: {}}
restartPolicy: OnFailure
stopSignal: SIGINT
terminationGracePeriodSeconds: 5
nodeName: node-1
nodeSelector: {disk: ssd, "example.com/zone": "1"}
hostNetwork: true
)";
  const NodeContainer original = Parse(spec);
  const std::string yaml = SpecToYaml(original.spec);
  const NodeContainer again = Parse(yaml);
  EXPECT_TRUE(controller::SameDesiredState(original, again)) << yaml;
  EXPECT_THAT(yaml, ::testing::HasSubstr("cpu: 1500m\n"));
  EXPECT_THAT(yaml, ::testing::HasSubstr("stopSignal: SIGINT\n"));
  EXPECT_THAT(yaml, ::testing::HasSubstr("- \"yes\"\n"));
  EXPECT_THAT(yaml, ::testing::HasSubstr("user: \"1000:2000\"\n"));
}

TEST(SpecYamlTest, NetworkingRoundTrips) {
  const std::string spec = R"(image: busybox
ports:
- {name: http, containerPort: 8080, hostPort: 18080}
- {containerPort: 53, hostPort: 1053, hostIP: "::1", protocol: UDP}
- {containerPort: 9090}
hostname: front
dnsPolicy: None
dnsConfig:
  nameservers: [192.0.2.53]
  searches: [example.com]
  options: [{name: ndots, value: "2"}, {name: edns0}]
hostAliases:
- {ip: 192.0.2.10, hostnames: [db, db.example.com]}
)";
  const NodeContainer original = Parse(spec);
  ASSERT_EQ(original.spec.ports.size(), 3u);
  const std::string yaml = SpecToYaml(original.spec);
  const NodeContainer again = Parse(yaml);
  EXPECT_TRUE(controller::SameDesiredState(original, again)) << yaml;
  EXPECT_THAT(yaml, ::testing::HasSubstr("- containerPort: 53\n  hostPort: 1053\n  hostIP: "));
  NodeContainer changed = again;
  changed.spec.ports[2].name = "metrics";
  EXPECT_FALSE(controller::SameDesiredState(original, changed));
  changed = again;
  changed.spec.dns_config->options[1].value = "";
  EXPECT_FALSE(controller::SameDesiredState(original, changed));
}

TEST(SpecYamlTest, ProbesAndHooksRoundTrip) {
  const std::string spec = R"(image: busybox
terminationGracePeriodSeconds: 20
ports: [{name: http, containerPort: 8080}]
livenessProbe:
  httpGet:
    path: /healthz
    port: http
    host: 127.0.0.1
    scheme: HTTPS
    httpHeaders: [{name: X-Probe, value: "yes"}]
  initialDelaySeconds: 3
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 4
  terminationGracePeriodSeconds: 7
readinessProbe:
  tcpSocket: {port: 8080, host: "::1"}
  successThreshold: 2
startupProbe:
  grpc: {port: 9090, service: app.Health}
lifecycle:
  postStart:
    exec: {command: [sh, -c, "echo started > /tmp/x"]}
  preStop:
    sleep: {seconds: 3}
)";
  const NodeContainer original = Parse(spec);
  ASSERT_TRUE(original.spec.startup_probe.has_value());
  const std::string yaml = SpecToYaml(original.spec);
  const NodeContainer again = Parse(yaml);
  EXPECT_TRUE(controller::SameDesiredState(original, again)) << yaml;
  EXPECT_THAT(yaml, ::testing::HasSubstr("livenessProbe:\n  httpGet:\n    path: /healthz\n"
                                         "    port: http\n"));
  EXPECT_THAT(yaml, ::testing::HasSubstr("lifecycle:\n  postStart:\n    exec:\n"));
  // Defaults are left out.
  EXPECT_THAT(yaml, ::testing::Not(::testing::HasSubstr("failureThreshold: 3")));

  // The other handlers and a port by number.
  const NodeContainer other = Parse(R"(image: busybox
livenessProbe:
  exec: {command: [cat, /tmp/healthy]}
lifecycle:
  preStop:
    httpGet: {path: /stop, port: 8080}
)");
  const std::string other_yaml = SpecToYaml(other.spec);
  EXPECT_TRUE(controller::SameDesiredState(other, Parse(other_yaml))) << other_yaml;
}

}  // namespace
}  // namespace berth::api
