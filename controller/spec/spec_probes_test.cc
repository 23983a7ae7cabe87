#include "controller/spec/spec_probes.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/spec/spec_parser.h"
#include "controller/spec/testing/spec_parser_test_util.h"
#include "controller/spec/yaml_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using test_util::WithSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string AllErrors(const ParseResult& result) {
  std::vector<std::string> lines;
  for (const ParseError& e : result.errors) lines.push_back(e.ToString());
  return absl::StrJoin(lines, "\n");
}

// The spec of a manifest whose spec ends with `extra`; fails the test on
// errors.
NodeContainerSpec Parse(const std::string& extra) {
  ParseResult r = ParseManifests(WithSpec(extra), "f.yaml");
  EXPECT_THAT(r.errors, IsEmpty()) << AllErrors(r);
  if (r.objects.size() != 1) {
    ADD_FAILURE() << "no object";
    return {};
  }
  return r.objects[0].spec;
}

// The errors of a manifest whose spec ends with `extra`, one a line.
std::string Errors(const std::string& extra) {
  ParseResult r = ParseManifests(WithSpec(extra), "f.yaml");
  EXPECT_THAT(r.objects, IsEmpty());
  return AllErrors(r);
}

TEST(SpecProbesTest, AbsentFieldsLeaveNoProbesOrHooks) {
  const NodeContainerSpec spec = Parse("");
  EXPECT_FALSE(spec.liveness_probe.has_value());
  EXPECT_FALSE(spec.readiness_probe.has_value());
  EXPECT_FALSE(spec.startup_probe.has_value());
  EXPECT_FALSE(spec.lifecycle.post_start.has_value());
  EXPECT_FALSE(spec.lifecycle.pre_stop.has_value());
}

TEST(SpecProbesTest, KubernetesDefaults) {
  const NodeContainerSpec spec = Parse(
      "  livenessProbe:\n    tcpSocket: {port: 80}\n"
      "  readinessProbe:\n    httpGet: {port: 8080}\n");
  ASSERT_TRUE(spec.liveness_probe.has_value());
  const Probe& p = *spec.liveness_probe;
  EXPECT_EQ(p.initial_delay_seconds, 0);
  EXPECT_EQ(p.period_seconds, 10);
  EXPECT_EQ(p.timeout_seconds, 1);
  EXPECT_EQ(p.success_threshold, 1);
  EXPECT_EQ(p.failure_threshold, 3);
  EXPECT_FALSE(p.termination_grace_period_seconds.has_value());
  ASSERT_TRUE(p.handler.tcp_socket.has_value());
  EXPECT_EQ(p.handler.tcp_socket->port.number, 80);
  EXPECT_EQ(p.handler.tcp_socket->host, "");
  ASSERT_TRUE(spec.readiness_probe.has_value());
  const HttpGetAction& get = *spec.readiness_probe->handler.http_get;
  EXPECT_EQ(get.path, "/");
  EXPECT_EQ(get.port.number, 8080);
  EXPECT_EQ(get.scheme, HttpScheme::kHttp);
  EXPECT_THAT(get.headers, IsEmpty());
}

TEST(SpecProbesTest, ZeroTakesTheDefaultAsTheApiServerDoes) {
  const NodeContainerSpec spec = Parse(
      "  livenessProbe:\n    exec: {command: [\"true\"]}\n    periodSeconds: 0\n"
      "    timeoutSeconds: 0\n    successThreshold: 0\n    failureThreshold: 0\n"
      "    initialDelaySeconds: 0\n");
  const Probe& p = *spec.liveness_probe;
  EXPECT_EQ(p.period_seconds, 10);
  EXPECT_EQ(p.timeout_seconds, 1);
  EXPECT_EQ(p.success_threshold, 1);
  EXPECT_EQ(p.failure_threshold, 3);
}

TEST(SpecProbesTest, EveryFieldIsRead) {
  const NodeContainerSpec spec = Parse(
      "  terminationGracePeriodSeconds: 20\n"
      "  livenessProbe:\n"
      "    httpGet:\n"
      "      path: /healthz\n      port: 8443\n      host: 127.0.0.1\n      scheme: HTTPS\n"
      "      httpHeaders:\n      - {name: X-Probe, value: berth}\n      - {name: Accept, value: "
      "\"\"}\n"
      "    initialDelaySeconds: 5\n    periodSeconds: 2\n    timeoutSeconds: 3\n"
      "    successThreshold: 1\n    failureThreshold: 4\n    terminationGracePeriodSeconds: 7\n"
      "  readinessProbe:\n    exec:\n      command: [cat, /tmp/ready]\n    successThreshold: 2\n"
      "  startupProbe:\n    grpc: {port: 9090, service: health}\n    failureThreshold: 30\n"
      "  lifecycle:\n"
      "    postStart:\n      exec: {command: [sh, -c, \"echo started\"]}\n"
      "    preStop:\n      sleep: {seconds: 20}\n");
  const Probe& live = *spec.liveness_probe;
  const HttpGetAction& get = *live.handler.http_get;
  EXPECT_EQ(get.path, "/healthz");
  EXPECT_EQ(get.port.number, 8443);
  EXPECT_EQ(get.host, "127.0.0.1");
  EXPECT_EQ(get.scheme, HttpScheme::kHttps);
  ASSERT_THAT(get.headers, SizeIs(2));
  EXPECT_EQ(get.headers[0].name, "X-Probe");
  EXPECT_EQ(get.headers[0].value, "berth");
  EXPECT_EQ(get.headers[1].value, "");
  EXPECT_EQ(live.initial_delay_seconds, 5);
  EXPECT_EQ(live.period_seconds, 2);
  EXPECT_EQ(live.timeout_seconds, 3);
  EXPECT_EQ(live.failure_threshold, 4);
  EXPECT_EQ(live.termination_grace_period_seconds, 7);
  EXPECT_THAT(spec.readiness_probe->handler.exec->command, ElementsAre("cat", "/tmp/ready"));
  EXPECT_EQ(spec.readiness_probe->success_threshold, 2);
  EXPECT_EQ(spec.startup_probe->handler.grpc->port, 9090);
  EXPECT_EQ(spec.startup_probe->handler.grpc->service, "health");
  EXPECT_EQ(spec.startup_probe->failure_threshold, 30);
  EXPECT_THAT(spec.lifecycle.post_start->exec->command, ElementsAre("sh", "-c", "echo started"));
  EXPECT_EQ(spec.lifecycle.pre_stop->sleep->seconds, 20);
}

TEST(SpecProbesTest, JsonFromTheApi) {
  absl::StatusOr<NodeContainer> o = ParseNodeContainer(
      R"({"apiVersion":"berth.dev/v1alpha1","kind":"NodeContainer","metadata":{"name":"w"},)"
      R"("spec":{"image":"b","readinessProbe":{"httpGet":{"path":"/","port":80,"scheme":"HTTP"},)"
      R"("periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},)"
      R"("lifecycle":{"preStop":{"httpGet":{"path":"/quit","port":80}}}}})",
      "api");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->spec.readiness_probe->handler.http_get->port.number, 80);
  EXPECT_EQ(o->spec.lifecycle.pre_stop->http_get->path, "/quit");
}

TEST(SpecProbesTest, ExactlyOneHandler) {
  EXPECT_EQ(Errors("  livenessProbe:\n    periodSeconds: 5\n"),
            "f.yaml:8:5: spec.livenessProbe: exactly one handler must be set (one of exec, "
            "httpGet, tcpSocket, grpc), got none");
  EXPECT_THAT(Errors("  startupProbe:\n    exec: {command: [a]}\n    tcpSocket: {port: 1}\n"),
              HasSubstr("spec.startupProbe: exactly one handler must be set (one of exec, "
                        "httpGet, tcpSocket, grpc), got exec and tcpSocket"));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop: {}\n"),
              HasSubstr("spec.lifecycle.preStop: exactly one handler must be set (one of exec, "
                        "httpGet, sleep), got none"));
  EXPECT_THAT(Errors("  lifecycle:\n    postStart:\n      exec: {command: [a]}\n"
                     "      sleep: {seconds: 1}\n"),
              HasSubstr("got exec and sleep"));
}

TEST(SpecProbesTest, HandlersProbesAndHooksDoNotShare) {
  EXPECT_THAT(Errors("  livenessProbe:\n    sleep: {seconds: 1}\n"),
              HasSubstr("spec.livenessProbe.sleep: unknown field \"sleep\""));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      grpc: {port: 1}\n"),
              HasSubstr("spec.lifecycle.preStop.grpc: unknown field \"grpc\""));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      tcpSocket: {port: 80}\n"),
              HasSubstr("f.yaml:9:18: spec.lifecycle.preStop.tcpSocket: not supported in "
                        "lifecycle hooks"));
  EXPECT_THAT(Errors("  lifecycle:\n    stopSignal: TERM\n"),
              HasSubstr("spec.lifecycle.stopSignal: unknown field"));
}

TEST(SpecProbesTest, ExecNeedsACommand) {
  EXPECT_THAT(Errors("  livenessProbe:\n    exec: {}\n"),
              HasSubstr("spec.livenessProbe.exec.command: required field is missing"));
  EXPECT_THAT(Errors("  livenessProbe:\n    exec: {command: []}\n"),
              HasSubstr("spec.livenessProbe.exec.command: must not be empty"));
  EXPECT_THAT(Errors("  livenessProbe:\n    exec: {command: cat}\n"),
              HasSubstr("expected a sequence of strings"));
}

TEST(SpecProbesTest, PortNumbers) {
  for (const char* bad : {"0", "65536", "-1"}) {
    EXPECT_THAT(
        Errors(absl::StrCat("  readinessProbe:\n    httpGet: {port: ", bad, "}\n")),
        HasSubstr(absl::StrCat("spec.readinessProbe.httpGet.port: must be between 1 and 65535")))
        << bad;
  }
  EXPECT_THAT(Errors("  readinessProbe:\n    tcpSocket: {}\n"),
              HasSubstr("spec.readinessProbe.tcpSocket.port: required field is missing"));
  EXPECT_THAT(Errors("  readinessProbe:\n    httpGet: {path: /}\n"),
              HasSubstr("spec.readinessProbe.httpGet.port: required field is missing"));
  EXPECT_THAT(Errors("  readinessProbe:\n    tcpSocket: {port: 1.5}\n"),
              HasSubstr("expected an integer or a string"));
  EXPECT_EQ(Parse("  readinessProbe:\n    tcpSocket: {port: 65535}\n")
                .readiness_probe->handler.tcp_socket->port.number,
            65535);
}

TEST(SpecProbesTest, PortNamesAreIanaServiceNames) {
  EXPECT_TRUE(ValidatePortName("http").ok());
  EXPECT_TRUE(ValidatePortName("a1-b2-c3").ok());
  EXPECT_TRUE(ValidatePortName("123456789012345").ok() == false);
  EXPECT_TRUE(ValidatePortName("x23456789012345").ok());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "must be 1-15 characters"},
      {"x234567890123456", "must be 1-15 characters"},
      {"HTTP", "only lower-case letters, digits and '-'"},
      {"web_port", "only lower-case letters, digits and '-'"},
      {"8080", "at least one letter"},
      {"web--port", "consecutive '-'"},
      {"-web", "must not begin or end with '-'"},
      {"web-", "must not begin or end with '-'"},
  };
  for (const auto& [name, why] : bad) {
    absl::Status s = ValidatePortName(name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr(why)) << name;
  }
  // A quoted number is a name, as in Kubernetes' int-or-string.
  EXPECT_THAT(Errors("  livenessProbe:\n    tcpSocket: {port: \"8080\"}\n"),
              HasSubstr("spec.livenessProbe.tcpSocket.port: invalid port name \"8080\": must "
                        "contain at least one letter"));
}

TEST(SpecProbesTest, NamedPortsMustNameASpecPort) {
  EXPECT_EQ(Errors("  livenessProbe:\n    httpGet: {port: http}\n"),
            "f.yaml:8:21: spec.livenessProbe.httpGet.port: no entry of spec.ports is named "
            "\"http\" (name a port there, or give the number)");
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      httpGet: {port: admin}\n"),
              HasSubstr("spec.lifecycle.preStop.httpGet.port: no entry of spec.ports is named "
                        "\"admin\""));
}

// ProbeDecoder over a bare spec mapping, with spec.ports given: the check
// of names against it, whoever fills it.
class BareDecoder : public ProbeDecoder {
 public:
  using ProbeDecoder::ProbeDecoder;
  void Run(NodeContainerSpec* out) { Decode(ReadFields(At(0), "spec", {}), out); }
};

std::vector<std::string> DecodeWithPorts(const std::string& yaml,
                                         const std::vector<ContainerPort>& ports,
                                         NodeContainerSpec* out) {
  std::vector<std::string> errors;
  out->ports = ports;
  ReadYamlDocuments(yaml, [&](const YamlDocument& doc) {
    BareDecoder decoder(doc, "f");
    decoder.Run(out);
    for (const ParseError& e : decoder.errors()) errors.push_back(e.ToString());
  });
  return errors;
}

TEST(SpecProbesTest, NamedPortsResolveAgainstSpecPorts) {
  ContainerPort http;
  http.name = "http";
  http.container_port = 8080;
  NodeContainerSpec spec;
  EXPECT_THAT(DecodeWithPorts("livenessProbe:\n  httpGet: {port: http}\n"
                              "readinessProbe:\n  tcpSocket: {port: http}\n",
                              {http}, &spec),
              IsEmpty());
  EXPECT_EQ(spec.liveness_probe->handler.http_get->port.name, "http");
  EXPECT_EQ(spec.liveness_probe->handler.http_get->port.number, 0);
  NodeContainerSpec other;
  EXPECT_THAT(DecodeWithPorts("livenessProbe:\n  httpGet: {port: admin}\n", {http}, &other),
              ElementsAre(HasSubstr("spec.livenessProbe.httpGet.port: no entry of spec.ports is "
                                    "named \"admin\"")));
}

TEST(SpecProbesTest, HttpGetFields) {
  EXPECT_THAT(Errors("  livenessProbe:\n    httpGet: {port: 80, scheme: https}\n"),
              HasSubstr("spec.livenessProbe.httpGet.scheme: unknown scheme \"https\" (accepted: "
                        "HTTP, HTTPS)"));
  EXPECT_THAT(Errors("  livenessProbe:\n    httpGet:\n      port: 80\n"
                     "      httpHeaders: [{name: \"X Bad\", value: v}]\n"),
              HasSubstr("spec.livenessProbe.httpGet.httpHeaders[0].name: invalid HTTP header "
                        "name \"X Bad\""));
  EXPECT_THAT(Errors("  livenessProbe:\n    httpGet:\n      port: 80\n"
                     "      httpHeaders: [{name: X-A}]\n"),
              HasSubstr("spec.livenessProbe.httpGet.httpHeaders[0].value: required field"));
  EXPECT_THAT(Errors("  livenessProbe:\n    httpGet:\n      port: 80\n      httpHeaders: {}\n"),
              HasSubstr("spec.livenessProbe.httpGet.httpHeaders: expected a sequence"));
  EXPECT_THAT(Errors("  livenessProbe:\n    httpGet: {port: 80, query: x}\n"),
              HasSubstr("spec.livenessProbe.httpGet.query: unknown field \"query\" (accepted: "
                        "path, port, host, scheme, httpHeaders)"));
  EXPECT_EQ(Parse("  livenessProbe:\n    httpGet: {port: 80, path: \"\"}\n")
                .liveness_probe->handler.http_get->path,
            "/");
  EXPECT_TRUE(IsHttpHeaderName("X-Forwarded-For"));
  EXPECT_FALSE(IsHttpHeaderName(""));
  EXPECT_FALSE(IsHttpHeaderName("A:B"));
}

TEST(SpecProbesTest, Grpc) {
  EXPECT_THAT(Errors("  livenessProbe:\n    grpc: {port: grpc}\n"),
              HasSubstr("spec.livenessProbe.grpc.port: expected an integer, got a string"));
  EXPECT_THAT(Errors("  livenessProbe:\n    grpc: {port: 0}\n"),
              HasSubstr("spec.livenessProbe.grpc.port: must be between 1 and 65535, got 0"));
  EXPECT_THAT(Errors("  livenessProbe:\n    grpc: {service: x}\n"),
              HasSubstr("spec.livenessProbe.grpc.port: required field is missing"));
}

TEST(SpecProbesTest, CountsAndThresholds) {
  const std::string head = "  livenessProbe:\n    exec: {command: [a]}\n";
  EXPECT_THAT(Errors(head + "    initialDelaySeconds: -1\n"),
              HasSubstr("spec.livenessProbe.initialDelaySeconds: must not be negative, got -1"));
  for (const char* key : {"periodSeconds", "timeoutSeconds", "failureThreshold"}) {
    EXPECT_THAT(Errors(absl::StrCat(head, "    ", key, ": -3\n")),
                HasSubstr(absl::StrCat("spec.livenessProbe.", key, ": must not be negative")));
    EXPECT_THAT(Errors(absl::StrCat(head, "    ", key, ": 2147483648\n")),
                HasSubstr("must be between 0 and 2147483647"));
    EXPECT_THAT(Errors(absl::StrCat(head, "    ", key, ": \"5\"\n")),
                HasSubstr("expected an integer, got a string"));
  }
  EXPECT_EQ(Parse(head + "    periodSeconds: 2147483647\n").liveness_probe->period_seconds,
            2147483647);
}

TEST(SpecProbesTest, SuccessThresholdIsOneForLivenessAndStartup) {
  EXPECT_THAT(Errors("  livenessProbe:\n    exec: {command: [a]}\n    successThreshold: 2\n"),
              HasSubstr("spec.livenessProbe.successThreshold: must be 1 for a liveness probe, "
                        "got 2"));
  EXPECT_THAT(Errors("  startupProbe:\n    exec: {command: [a]}\n    successThreshold: 3\n"),
              HasSubstr("spec.startupProbe.successThreshold: must be 1 for a startup probe, "
                        "got 3"));
  EXPECT_EQ(Parse("  readinessProbe:\n    exec: {command: [a]}\n    successThreshold: 3\n")
                .readiness_probe->success_threshold,
            3);
}

TEST(SpecProbesTest, ProbeGracePeriod) {
  EXPECT_THAT(
      Errors("  readinessProbe:\n    exec: {command: [a]}\n    terminationGracePeriodSeconds: 5\n"),
      HasSubstr("spec.readinessProbe.terminationGracePeriodSeconds: must not be set on a "
                "readiness probe"));
  EXPECT_THAT(
      Errors("  livenessProbe:\n    exec: {command: [a]}\n    terminationGracePeriodSeconds: 0\n"),
      HasSubstr("spec.livenessProbe.terminationGracePeriodSeconds: must be between 1 and "
                "31536000, got 0"));
  EXPECT_EQ(Parse("  startupProbe:\n    exec: {command: [a]}\n"
                  "    terminationGracePeriodSeconds: 3\n")
                .startup_probe->termination_grace_period_seconds,
            3);
}

TEST(SpecProbesTest, SleepIsBoundedByTheGracePeriod) {
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      sleep: {seconds: 31}\n"),
              HasSubstr("spec.lifecycle.preStop.sleep.seconds: must be at least 1 and at most "
                        "the spec's terminationGracePeriodSeconds (30), got 31"));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      sleep: {seconds: 0}\n"),
              HasSubstr("got 0"));
  EXPECT_THAT(Errors("  terminationGracePeriodSeconds: 0\n"
                     "  lifecycle:\n    postStart:\n      sleep: {seconds: 1}\n"),
              HasSubstr("terminationGracePeriodSeconds (0), got 1"));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      sleep: {}\n"),
              HasSubstr("spec.lifecycle.preStop.sleep.seconds: required field is missing"));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop:\n      sleep: {seconds: x}\n"),
              HasSubstr("spec.lifecycle.preStop.sleep.seconds: expected an integer"));
  EXPECT_EQ(Parse("  terminationGracePeriodSeconds: 60\n"
                  "  lifecycle:\n    preStop:\n      sleep: {seconds: 60}\n")
                .lifecycle.pre_stop->sleep->seconds,
            60);
}

TEST(SpecProbesTest, WrongShapes) {
  EXPECT_THAT(Errors("  livenessProbe: [a]\n"),
              HasSubstr("spec.livenessProbe: expected a mapping, got a sequence"));
  EXPECT_THAT(Errors("  lifecycle: x\n"), HasSubstr("spec.lifecycle: expected a mapping"));
  EXPECT_THAT(Errors("  lifecycle:\n    preStop: 1\n"),
              HasSubstr("spec.lifecycle.preStop: expected a mapping"));
  // Null is absent, as everywhere in the parser.
  EXPECT_FALSE(Parse("  livenessProbe: null\n  lifecycle: {}\n").liveness_probe.has_value());
}

TEST(SpecProbesTest, EveryErrorIsReportedOnce) {
  ParseResult r = ParseManifests(
      WithSpec("  livenessProbe:\n    httpGet: {port: 0, scheme: x}\n    periodSeconds: -1\n"),
      "f.yaml");
  EXPECT_THAT(r.errors, SizeIs(3)) << AllErrors(r);
}

}  // namespace
}  // namespace berth::controller
