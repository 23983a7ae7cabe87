#include "controller/spec/spec_parser.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/spec/spec_network.h"
#include "controller/spec/testing/spec_parser_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace berth::controller {
namespace {

using test_util::ReadFile;
using test_util::TestdataPath;
using test_util::WithSpec;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;

std::vector<std::string> ListDir(const std::string& relative) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TestdataPath(relative))) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string AllErrors(const ParseResult& result) {
  std::vector<std::string> lines;
  for (const ParseError& e : result.errors) lines.push_back(e.ToString());
  return absl::StrJoin(lines, "\n");
}

// A valid document whose spec gets `spec_extra` (indented by two spaces).
// ---- Good corpus ----

TEST(SpecParserGoodTest, EveryFileParsesWithoutErrors) {
  std::vector<std::string> files = ListDir("good");
  ASSERT_THAT(files, Not(IsEmpty()));
  for (const std::string& name : files) {
    SCOPED_TRACE(name);
    ParseResult result = ParseManifests(ReadFile(TestdataPath("good/" + name)), "good/" + name);
    EXPECT_THAT(result.errors, IsEmpty()) << AllErrors(result);
    EXPECT_THAT(result.objects, Not(IsEmpty()));
  }
}

TEST(SpecParserGoodTest, FullRoundTrip) {
  ParseResult result = ParseManifests(ReadFile(TestdataPath("good/full.yaml")), "full.yaml");
  ASSERT_THAT(result.errors, IsEmpty()) << AllErrors(result);
  ASSERT_THAT(result.objects, SizeIs(1));
  const NodeContainer& nc = result.objects[0];
  EXPECT_EQ(nc.source, "full.yaml:2");

  const ObjectMeta& m = nc.metadata;
  EXPECT_EQ(m.name, "web.frontend-1");
  EXPECT_EQ(m.namespace_, "edge");
  EXPECT_THAT(m.labels, ElementsAre(Pair("app", "web"), Pair("app.kubernetes.io/part-of", "shop")));
  EXPECT_THAT(m.annotations, ElementsAre(Pair("note", "serves static files")));
  EXPECT_EQ(m.generation, 3);
  EXPECT_EQ(m.uid, "0b7c1f0e-5c2a-4e2b-9d7a-1f2e3d4c5b6a");
  EXPECT_EQ(m.resource_version, "12345");

  const NodeContainerSpec& s = nc.spec;
  EXPECT_EQ(s.image, "docker.io/library/busybox:1.36");
  EXPECT_THAT(s.command, ElementsAre("httpd"));
  EXPECT_THAT(s.args, ElementsAre("-f", "-p", "8080", ""));
  ASSERT_THAT(s.env, SizeIs(3));
  EXPECT_EQ(s.env[0].name, "GREETING");
  EXPECT_EQ(s.env[0].value, "hello world");
  EXPECT_EQ(s.env[1].name, "_EMPTY");
  EXPECT_EQ(s.env[1].value, "");
  EXPECT_EQ(s.env[2].name, "PORT");
  EXPECT_EQ(s.env[2].value, "8080");
  EXPECT_EQ(s.working_dir, "/srv/www");
  EXPECT_EQ(s.run_as_user, 1000u);
  EXPECT_EQ(s.run_as_group, 2000u);
  EXPECT_EQ(s.limits.cpu_millis, 1500);
  EXPECT_EQ(s.limits.memory_bytes, 64 << 20);
  EXPECT_EQ(s.limits.pids, 100);
  ASSERT_THAT(s.mounts, SizeIs(3));
  EXPECT_EQ(s.mounts[0].mount_path, "/data");  // cleaned
  EXPECT_EQ(s.mounts[0].host_path, "/var/lib/app");
  EXPECT_EQ(s.mounts[0].tmpfs_size_bytes, std::nullopt);
  EXPECT_TRUE(s.mounts[0].read_only);
  EXPECT_EQ(s.mounts[1].mount_path, "/scratch");
  EXPECT_EQ(s.mounts[1].host_path, std::nullopt);
  EXPECT_EQ(s.mounts[1].tmpfs_size_bytes, 16 << 20);
  EXPECT_FALSE(s.mounts[1].read_only);
  EXPECT_EQ(s.mounts[2].mount_path, "/tmp");
  EXPECT_EQ(s.mounts[2].tmpfs_size_bytes, 0);
  EXPECT_EQ(s.restart_policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(s.stop_signal, 2);
  EXPECT_EQ(s.termination_grace_period_seconds, 45);
  EXPECT_EQ(s.node_name, "node-a");
  EXPECT_THAT(s.node_selector, ElementsAre(Pair("disk", "ssd"), Pair("zone", "1")));
  EXPECT_TRUE(s.host_network);
}

TEST(SpecParserGoodTest, MinimalGetsDefaults) {
  ParseResult result = ParseManifests(ReadFile(TestdataPath("good/minimal.yaml")), "minimal.yaml");
  ASSERT_THAT(result.objects, SizeIs(1)) << AllErrors(result);
  const NodeContainer& nc = result.objects[0];
  EXPECT_EQ(nc.metadata.namespace_, "default");
  EXPECT_EQ(nc.metadata.generation, 0);
  EXPECT_EQ(nc.spec.restart_policy, RestartPolicy::kAlways);
  EXPECT_EQ(nc.spec.stop_signal, 15);
  EXPECT_EQ(nc.spec.termination_grace_period_seconds, 30);
  EXPECT_EQ(nc.spec.run_as_user, std::nullopt);
  EXPECT_EQ(nc.spec.limits.cpu_millis, 0);
  EXPECT_EQ(nc.spec.limits.memory_bytes, 0);
  EXPECT_FALSE(nc.spec.host_network);
}

TEST(SpecParserGoodTest, MultiDocumentFile) {
  ParseResult result = ParseManifests(ReadFile(TestdataPath("good/multi.yaml")), "multi.yaml");
  ASSERT_THAT(result.errors, IsEmpty()) << AllErrors(result);
  ASSERT_THAT(result.objects, SizeIs(3));
  const NodeContainer& one = result.objects[0];
  const NodeContainer& two = result.objects[1];
  const NodeContainer& three = result.objects[2];
  EXPECT_EQ(one.source, "multi.yaml:5");
  EXPECT_THAT(one.spec.command, ElementsAre("sleep", "3600"));
  EXPECT_EQ(one.spec.restart_policy, RestartPolicy::kNever);
  EXPECT_EQ(two.source, "multi.yaml:10");
  EXPECT_EQ(two.metadata.namespace_, "team-b");
  EXPECT_EQ(two.spec.run_as_user, 1000u);
  EXPECT_EQ(two.spec.run_as_group, std::nullopt);
  EXPECT_EQ(two.spec.stop_signal, 9);
  EXPECT_EQ(two.spec.termination_grace_period_seconds, 0);
  EXPECT_EQ(two.spec.limits.cpu_millis, 250);
  EXPECT_EQ(two.spec.limits.memory_bytes, 1000000000);
  EXPECT_EQ(two.spec.limits.pids, 64);
  EXPECT_EQ(three.spec.stop_signal, 15);
  EXPECT_EQ(three.spec.run_as_user, 0u);
  EXPECT_EQ(three.spec.limits.cpu_millis, 2000);
  EXPECT_EQ(three.spec.limits.memory_bytes, 1000000);
}

TEST(SpecParserGoodTest, ApiJsonObject) {
  absl::StatusOr<NodeContainer> nc =
      ParseNodeContainer(ReadFile(TestdataPath("good/api.json")), "api");
  ASSERT_TRUE(nc.ok()) << nc.status();
  EXPECT_EQ(nc->source, "api");
  EXPECT_EQ(nc->metadata.name, "web");
  EXPECT_EQ(nc->metadata.generation, 2);
  EXPECT_EQ(nc->metadata.uid, "6f1c2d3e-aaaa-bbbb-cccc-000000000001");
  EXPECT_EQ(nc->metadata.resource_version, "987");
  EXPECT_THAT(nc->metadata.finalizers, ElementsAre("berth.dev/cleanup"));
  EXPECT_EQ(nc->metadata.deletion_timestamp, "");
  EXPECT_THAT(nc->metadata.annotations, SizeIs(1));
  EXPECT_THAT(nc->spec.args, ElementsAre("-f", "-p", "8080"));
  EXPECT_EQ(nc->spec.limits.cpu_millis, 500);
  EXPECT_EQ(nc->spec.limits.pids, 100);
  ASSERT_THAT(nc->spec.mounts, SizeIs(1));
  EXPECT_TRUE(nc->spec.mounts[0].read_only);
  EXPECT_THAT(nc->spec.node_selector, IsEmpty());  // null
}

TEST(SpecParserGoodTest, KubectlGetOutput) {
  absl::StatusOr<NodeContainer> nc =
      ParseNodeContainer(ReadFile(TestdataPath("good/kubectl_get.yaml")), "kubectl");
  ASSERT_TRUE(nc.ok()) << nc.status();
  EXPECT_EQ(nc->metadata.generation, 1);
  EXPECT_EQ(nc->metadata.resource_version, "5501");
  EXPECT_EQ(nc->spec.image, "busybox");
}

TEST(SpecParserGoodTest, ExampleManifestsParse) {
  const std::string dir = TestdataPath("../../manifests/examples");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    ParseResult result = ParseManifests(ReadFile(entry.path().string()), entry.path().string());
    EXPECT_THAT(result.errors, IsEmpty()) << AllErrors(result);
    EXPECT_THAT(result.objects, SizeIs(1));
    ++files;
  }
  EXPECT_GE(files, 2);
}

// ---- Bad corpus ----

// Every file in testdata/bad and a substring its errors must contain
// (usually "field: reason").
const std::map<std::string, std::string>& BadExpectations() {
  static const auto* expectations = new std::map<std::string, std::string>{
      {"alias_bomb.yaml", "metadata.annotations.b[0]: YAML aliases are not supported"},
      {"alias_in_status.yaml", "status.image: YAML aliases are not supported"},
      {"bad_env_name.yaml", "spec.env[0].name: invalid environment variable"},
      {"bad_quantity.yaml",
       "spec.resources.limits.memory: parse quantity \"64MB\": unknown suffix"},
      {"bad_restart_policy.yaml", "spec.restartPolicy: unknown restart policy"},
      {"bad_signal.yaml", "spec.stopSignal: unknown signal \"SIGFOO\""},
      {"bad_tmpfs_size.yaml", "spec.mounts[0].tmpfs.sizeLimit: parse quantity"},
      {"bad_user.yaml", "spec.user: invalid user \"nobody\""},
      {"binary_garbage.yaml", "is not allowed in YAML"},
      {"deep_block.yaml", "YAML nested deeper than 64 levels"},
      {"deep_brackets.yaml", "YAML nested deeper than 64 levels"},
      {"duplicate_env.yaml", "spec.env[1].name: duplicate environment variable"},
      {"duplicate_key.yaml", "spec.image: duplicate key \"image\" (first at 6:3)"},
      {"duplicate_mount.yaml", "spec.mounts[1].mountPath: duplicate mountPath"},
      {"empty_image.yaml", "spec.image: must not be empty"},
      {"grace_negative.yaml", "spec.terminationGracePeriodSeconds: must not be negative"},
      {"grace_too_large.yaml",
       "spec.terminationGracePeriodSeconds: must be between 0 and 31536000"},
      {"hook_exec_empty.yaml", "spec.lifecycle.postStart.exec.command: must not be empty"},
      {"hook_sleep_over_grace.yaml",
       "spec.lifecycle.preStop.sleep.seconds: must be at least 1 and at most"},
      {"hook_tcp_socket.yaml",
       "spec.lifecycle.preStop.tcpSocket: not supported in lifecycle hooks"},
      {"host_path_relative.yaml", "spec.mounts[0].hostPath.path: must be an absolute path"},
      {"liveness_success_threshold.yaml", "spec.livenessProbe.successThreshold: must be 1"},
      {"memory_too_small.yaml", "spec.resources.limits.memory: must be at least 4096 bytes"},
      {"missing_image.yaml", "spec.image: required field is missing"},
      {"missing_spec.yaml", "spec: required field is missing"},
      {"mount_both.yaml", "spec.mounts[0]: exactly one of hostPath or tmpfs must be set"},
      {"mount_dotdot.yaml", "spec.mounts[0].mountPath: must not contain \"..\""},
      {"mount_neither.yaml", "spec.mounts[0]: exactly one of hostPath or tmpfs must be set"},
      {"mount_relative.yaml", "spec.mounts[0].mountPath: must be an absolute path"},
      {"name_dotdot.yaml", "metadata.name: invalid name \"../x\""},
      {"name_empty.yaml", "metadata.name: invalid name \"\": must not be empty"},
      {"name_too_long.yaml", "metadata.name: invalid name"},
      {"name_upper.yaml", "metadata.name: invalid name \"UPPER\""},
      {"namespace_invalid.yaml", "metadata.namespace: invalid namespace"},
      {"negative_quantity.yaml",
       "spec.resources.limits.cpu: parse quantity \"-500m\": must not be "
       "negative"},
      {"not_a_mapping.yaml", "expected a mapping, got a sequence"},
      {"nul_bytes.yaml", "control character 0x00 is not allowed in YAML"},
      {"nul_escape.yaml", "metadata.name: must not contain NUL characters"},
      {"one_bad_one_good.yaml", "metadata.name: invalid name \"Broken\""},
      {"pids_zero.yaml", "spec.resources.limits.pids: must be at least 1"},
      {"probe_header_name.yaml",
       "spec.readinessProbe.httpGet.httpHeaders[0].name: invalid HTTP header"},
      {"probe_named_port_missing.yaml", "spec.livenessProbe.httpGet.port: no entry of spec.ports"},
      {"probe_period_negative.yaml", "spec.livenessProbe.periodSeconds: must not be negative"},
      {"probe_port_name_invalid.yaml",
       "spec.livenessProbe.tcpSocket.port: invalid port name \"HTTP\""},
      {"probe_port_out_of_range.yaml",
       "spec.readinessProbe.httpGet.port: must be between 1 and 65535"},
      {"probe_two_handlers.yaml", "spec.livenessProbe: exactly one handler must be set"},
      {"readiness_grace_period.yaml",
       "spec.readinessProbe.terminationGracePeriodSeconds: must not be set"},
      {"signal_out_of_range.yaml", "spec.stopSignal: unknown signal \"65\""},
      {"syntax_error.yaml",
       "8:3: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence "
       "(started at 7:12)"},
      {"syntax_indentation.yaml",
       "5:2: invalid YAML: did not find expected key while parsing a block mapping "
       "(started at 1:1)"},
      {"unknown_field_metadata.yaml",
       "metadata.lables: unknown field \"lables\" (accepted: name, namespace"},
      {"unknown_field_mount.yaml",
       "spec.mounts[0].subPath: unknown field \"subPath\" (accepted: "
       "mountPath, hostPath, tmpfs, readOnly)"},
      {"unknown_field_spec.yaml",
       "spec.imagPullPolicy: unknown field \"imagPullPolicy\" (accepted: "
       "image, imagePullPolicy, imagePullSecrets, command"},
      {"unknown_field_top.yaml",
       "specs: unknown field \"specs\" (accepted: apiVersion, kind, "
       "metadata, spec, status)"},
      {"unsupported_tag.yaml", "spec.image: expected a string, got a value tagged"},
      {"working_dir_relative.yaml", "spec.workingDir: must be an absolute path"},
      {"wrong_api_version.yaml", "apiVersion: unsupported apiVersion \"berth.dev/v1\""},
      {"wrong_kind.yaml", "kind: unsupported kind \"Pod\""},
      {"wrong_type_bool.yaml", "spec.hostNetwork: expected a boolean, got a string"},
      {"wrong_type_env_value.yaml",
       "spec.env[0].value: expected a string, got an integer (quote it"},
      {"wrong_type_int.yaml",
       "spec.terminationGracePeriodSeconds: expected an integer, got a string"},
      {"wrong_type_scalar.yaml", "spec.command: expected a sequence of strings, got a string"},
      {"wrong_type_sequence.yaml", "spec.image: expected a string, got a sequence"},
      {"yes_is_boolean.yaml", "spec.nodeSelector.ssd: expected a string, got a boolean"},
      {"dns_none_without_config.yaml", "spec.dnsConfig: required with dnsPolicy: None"},
      {"dns_policy_cluster_first.yaml",
       "spec.dnsPolicy: dnsPolicy ClusterFirst is not supported: a node has no cluster DNS"},
      {"host_alias_bad_ip.yaml",
       "spec.hostAliases[0].ip: must be a valid IP address, got \"300.1.2.3\""},
      {"host_network_host_port.yaml",
       "spec.ports[0].hostPort: must equal containerPort (80) with hostNetwork: true"},
      {"host_port_duplicate.yaml",
       "spec.ports[1].hostPort: duplicate host port 8080/TCP (also spec.ports[0])"},
      {"hostname_invalid.yaml", "spec.hostname: invalid hostname \"web.example\""},
      {"port_duplicate.yaml",
       "spec.ports[1].containerPort: duplicate port 80/TCP (also spec.ports[0])"},
      {"port_name_invalid.yaml", "spec.ports[0].name: invalid port name \"Http_1\""},
      {"port_out_of_range.yaml",
       "spec.ports[0].containerPort: must be between 1 and 65535, got 70000"},
      {"port_sctp.yaml", "spec.ports[0].protocol: SCTP is not supported"},
  };
  return *expectations;
}

TEST(SpecParserBadTest, EveryFileHasAnExpectation) {
  std::vector<std::string> expected;
  for (const auto& [name, unused] : BadExpectations()) expected.push_back(name);
  EXPECT_EQ(ListDir("bad"), expected);
}

TEST(SpecParserBadTest, EachFileYieldsALocatedError) {
  for (const auto& [name, expectation] : BadExpectations()) {
    SCOPED_TRACE(name);
    const std::string file = "testdata/bad/" + name;
    ParseResult result = ParseManifests(ReadFile(TestdataPath("bad/" + name)), file);
    ASSERT_THAT(result.errors, Not(IsEmpty()));
    bool found = false;
    for (const ParseError& e : result.errors) {
      EXPECT_EQ(e.file, file);
      EXPECT_GT(e.line, 0) << e.ToString();
      EXPECT_GT(e.column, 0) << e.ToString();
      EXPECT_THAT(e.ToString(), StartsWith(absl::StrCat(file, ":", e.line, ":", e.column, ": ")));
      found = found || absl::StrContains(e.ToString(), expectation);
    }
    EXPECT_TRUE(found) << "want \"" << expectation << "\" in:\n" << AllErrors(result);
    if (name != "one_bad_one_good.yaml") {
      EXPECT_THAT(result.objects, IsEmpty());
    }
  }
}

TEST(SpecParserBadTest, BadDocumentDoesNotAffectGoodOne) {
  ParseResult result =
      ParseManifests(ReadFile(TestdataPath("bad/one_bad_one_good.yaml")), "mixed.yaml");
  ASSERT_THAT(result.errors, SizeIs(1)) << AllErrors(result);
  EXPECT_EQ(result.errors[0].ToString(),
            "mixed.yaml:5:9: metadata.name: invalid name \"Broken\": invalid "
            "character 'B' (a DNS-1123 name: lowercase letters, digits, '-' "
            "and '.')");
  ASSERT_THAT(result.objects, SizeIs(1));
  EXPECT_EQ(result.objects[0].metadata.name, "fine");
  EXPECT_EQ(result.objects[0].source, "mixed.yaml:8");  // the "---" line
}

TEST(SpecParserBadTest, SyntaxErrorDropsTheWholeFile) {
  const std::string good = WithSpec("");
  ParseResult result = ParseManifests(absl::StrCat(good, "---\n", good, "---\nx: [\n"), "f");
  EXPECT_THAT(result.objects, IsEmpty());
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0].ToString(), StartsWith("f:16:"));
  EXPECT_THAT(result.errors[0].reason, HasSubstr("invalid YAML"));
}

TEST(SpecParserBadTest, AllErrorsOfADocumentAreReportedInOrder) {
  ParseResult result = ParseManifests(
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
      "metadata: {name: web, foo: 1}\n"
      "spec: {image: busybox, user: x, env: [{name: A, value: 2}]}\n",
      "f");
  EXPECT_THAT(result.objects, IsEmpty());
  std::vector<std::string> errors;
  for (const ParseError& e : result.errors) errors.push_back(e.ToString());
  EXPECT_THAT(errors, ElementsAre(StartsWith("f:3:23: metadata.foo: unknown field"),
                                  StartsWith("f:4:30: spec.user: invalid user"),
                                  StartsWith("f:4:56: spec.env[0].value: expected a "
                                             "string, got an integer")));
}

// ---- Field-level behaviour ----

struct SnippetCase {
  std::string spec_extra;
  std::string error;  // empty: must parse
};

TEST(SpecParserTest, ScalarTypesFollowTheApiServer) {
  const std::vector<SnippetCase> cases = {
      {"  env: [{name: A, value: \"1\"}]\n", ""},
      {"  env: [{name: A, value: '1'}]\n", ""},
      {"  env: [{name: A, value: !!str 1}]\n", ""},
      {"  env: [{name: A, value: ~}]\n", ""},  // null is "not set"
      {"  env: [{name: A, value: 1}]\n", "got an integer"},
      {"  env: [{name: A, value: 1.5}]\n", "got a number"},
      {"  env: [{name: A, value: yes}]\n", "got a boolean"},
      {"  env: [{name: A, value: [x]}]\n", "got a sequence"},
      {"  env: [{name: A, value: {x: y}}]\n", "got a mapping"},
      {"  env: {A: x}\n", "spec.env: expected a sequence, got a mapping"},
      {"  env: [A=x]\n", "spec.env[0]: expected a mapping, got a string"},
      {"  hostNetwork: true\n", ""},
      {"  hostNetwork: 1\n", "expected a boolean, got an integer"},
      {"  terminationGracePeriodSeconds: 0x10\n", ""},
      {"  terminationGracePeriodSeconds: 1.0\n", "expected an integer"},
      {"  terminationGracePeriodSeconds: 99999999999999999999\n", "must be between 0 and 31536000"},
      {"  nodeSelector: {1: x}\n", ""},
      {"  nodeSelector: {[a]: x}\n", "mapping keys must be strings"},
      {"  nodeName: Node_A\n", "spec.nodeName: invalid node name"},
      {"  command: [sleep, 10]\n", "spec.command[1]: expected a string"},
      {"  image: \"busy box\"\n", "spec.image: duplicate key"},
      {"  resources: {requests: {cpu: 1}}\n", "spec.resources.requests: unknown field"},
      {"  resources: {limits: {cpu: \"0.0001\"}}\n", ""},
      {"  resources: {limits: {memory: \"1e100\"}}\n", "too large"},
      {"  resources: {limits: {memory: [1]}}\n", "expected an integer or a string, got a sequence"},
      {"  resources: {limits: {cpu: 1.5}}\n",
       "spec.resources.limits.cpu: expected an integer or a string, got a "
       "number (quote it: \"1.5\")"},
      {"  resources: {limits: {cpu: \"1.5\", memory: 1048576}}\n", ""},
      {"  mounts: [{mountPath: /, tmpfs: {}}]\n", "container's root"},
      {"  mounts: [{mountPath: /a, hostPath: {path: /x/../etc}}]\n",
       "spec.mounts[0].hostPath.path: must not contain \"..\""},
      {"  mounts: [{mountPath: /a, hostPath: {}}]\n",
       "spec.mounts[0].hostPath.path: required field is missing"},
      {"  mounts: [{mountPath: /a, tmpfs: {sizeLimit: -1}}]\n", "must not be negative"},
      {"  mounts: [{mountPath: /a, tmpfs: {}, readOnly: \"yes\"}]\n", "expected a boolean"},
      {"  imagePullPolicy: IfNotPresent\n  imagePullSecrets: [{name: regcred}]\n", ""},
      {"  imagePullPolicy: Sometimes\n",
       "spec.imagePullPolicy: unknown image pull policy \"Sometimes\""},
      {"  imagePullSecrets: [regcred]\n", "spec.imagePullSecrets[0]"},
      {"  imagePullSecrets: [{name: Reg_Cred}]\n", "spec.imagePullSecrets[0].name"},
      {"  imagePullSecrets: [{}]\n", "spec.imagePullSecrets[0].name: required"},
  };
  for (const SnippetCase& c : cases) {
    SCOPED_TRACE(c.spec_extra);
    ParseResult result = ParseManifests(WithSpec(c.spec_extra), "f");
    if (c.error.empty()) {
      EXPECT_THAT(result.errors, IsEmpty()) << AllErrors(result);
      EXPECT_THAT(result.objects, SizeIs(1));
    } else {
      EXPECT_THAT(result.objects, IsEmpty());
      EXPECT_THAT(AllErrors(result), HasSubstr(c.error));
    }
  }
}

TEST(SpecParserTest, LabelsAndAnnotationsFollowTheApiServer) {
  const std::vector<SnippetCase> cases = {
      {"labels: {app.kubernetes.io/name: web, tier: \"\", v: 1.2-x_y}", ""},
      {"annotations: {example.com/note: \"any text: at all\"}", ""},
      {"labels: {\"a b\": x}", "metadata.labels[\"a b\"]: invalid key"},
      {"labels: {a/b/c: x}", "invalid key"},
      {"labels: {-a: x}", "invalid key"},
      {"labels: {Example.COM/a: x}", "invalid key"},
      {"labels: {app: \"has space\"}", "invalid label value"},
      {"labels: {app: x-}", "invalid label value"},
      {"annotations: {\"bad key!\": x}", "invalid key"},
      {"labels: [app]", "metadata.labels: expected a mapping, got a sequence"},
  };
  for (const SnippetCase& c : cases) {
    SCOPED_TRACE(c.spec_extra);
    ParseResult result = ParseManifests(
        "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
        "metadata:\n  name: web\n  " +
            c.spec_extra + "\nspec:\n  image: busybox\n",
        "f");
    if (c.error.empty()) {
      EXPECT_THAT(result.errors, IsEmpty()) << AllErrors(result);
    } else {
      EXPECT_THAT(AllErrors(result), HasSubstr(c.error));
    }
  }
}

TEST(SpecParserTest, UserForms) {
  struct Case {
    std::string user;
    std::optional<uint32_t> uid, gid;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"1000", 1000, std::nullopt, true},
      {"0", 0, std::nullopt, true},
      {"\"1000\"", 1000, std::nullopt, true},
      {"\"1000:2000\"", 1000, 2000, true},
      {"\"0:0\"", 0, 0, true},
      {"4294967294", 4294967294u, std::nullopt, true},
      {"4294967295", {}, {}, false},
      {"-1", {}, {}, false},
      {"\"1000:\"", {}, {}, false},
      {"\":1000\"", {}, {}, false},
      {"\"1:2:3\"", {}, {}, false},
      {"\" 1000\"", {}, {}, false},
      {"\"root\"", {}, {}, false},
      {"1.5", {}, {}, false},
      {"true", {}, {}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.user);
    ParseResult result = ParseManifests(WithSpec("  user: " + c.user + "\n"), "f");
    if (!c.ok) {
      EXPECT_THAT(result.objects, IsEmpty());
      EXPECT_THAT(AllErrors(result), HasSubstr("spec.user: "));
      continue;
    }
    ASSERT_THAT(result.objects, SizeIs(1)) << AllErrors(result);
    EXPECT_EQ(result.objects[0].spec.run_as_user, c.uid);
    EXPECT_EQ(result.objects[0].spec.run_as_group, c.gid);
  }
}

TEST(SpecParserTest, StopSignalForms) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"SIGTERM", 15}, {"TERM", 15}, {"term", 15},     {"SigKill", 9}, {"9", 9},  {"\"9\"", 9},
      {"SIGHUP", 1},   {"64", 64},   {"SIGWINCH", 28}, {"0", 0},       {"65", 0}, {"-1", 0},
      {"SIGRTMIN", 0}, {"\"\"", 0},  {"SIG", 0},       {"15.0", 0},
  };
  for (const auto& [text, signal] : cases) {
    SCOPED_TRACE(text);
    ParseResult result = ParseManifests(WithSpec("  stopSignal: " + text + "\n"), "f");
    if (signal == 0) {
      EXPECT_THAT(AllErrors(result), HasSubstr("spec.stopSignal: "));
    } else {
      ASSERT_THAT(result.objects, SizeIs(1)) << AllErrors(result);
      EXPECT_EQ(result.objects[0].spec.stop_signal, signal);
    }
  }
}

TEST(SpecParserTest, ParseErrorToString) {
  EXPECT_EQ((ParseError{"f.yaml", 3, 7, "spec.image", "required"}).ToString(),
            "f.yaml:3:7: spec.image: required");
  EXPECT_EQ((ParseError{"f.yaml", 3, 7, "", "invalid YAML"}).ToString(),
            "f.yaml:3:7: invalid YAML");
  EXPECT_EQ((ParseError{"f.yaml", 0, 0, "", "too big"}).ToString(), "f.yaml: too big");
  EXPECT_EQ((ParseError{"", 3, 7, "spec", "x"}).ToString(), "3:7: spec: x");
  EXPECT_EQ((ParseError{"", 0, 0, "", "x"}).ToString(), "x");
}

TEST(SpecParserTest, ParseNodeContainerNeedsExactlyOneValidObject) {
  const std::string good = WithSpec("");
  EXPECT_TRUE(ParseNodeContainer(good, "api").ok());

  absl::Status two = ParseNodeContainer(good + "---\n" + good, "api").status();
  EXPECT_EQ(two.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(two.message(), "parse NodeContainer api: expected one object, got 2");

  absl::Status empty = ParseNodeContainer("# nothing\n", "api").status();
  EXPECT_EQ(empty.message(), "parse NodeContainer api: no object in input");

  absl::Status bad = ParseNodeContainer(
                         "{\"apiVersion\":\"berth.dev/v1alpha1\",\"kind\":\"NodeContainer\","
                         "\"metadata\":{\"name\":\"web\"},\"spec\":{\"image\":\"\"}}",
                         "api")
                         .status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "parse NodeContainer api: 1:101: spec.image: must not be empty");
}

// metadata.name is what the API server's IsDNS1123Subdomain accepts: up to
// 253 characters, parts of any length; metadata.namespace a DNS-1123 label.
TEST(SpecParserTest, NamesFollowTheApiServer) {
  auto parse = [](const std::string& name, const std::string& ns) {
    return ParseManifests(absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
                                       "metadata:\n  name: ",
                                       name, "\n  namespace: ", ns, "\nspec:\n  image: busybox\n"),
                          "f.yaml");
  };
  const std::string part100 = "p" + std::string(98, '1') + "q";
  std::string name253 = part100 + "." + part100 + ".";
  name253 += std::string(253 - name253.size(), 'z');
  ASSERT_EQ(name253.size(), 253u);
  for (const std::string& ok : {part100, "a." + part100 + ".b", name253, std::string(253, 'a')}) {
    ParseResult r = parse(ok, "default");
    EXPECT_THAT(r.errors, IsEmpty()) << ok << "\n" << AllErrors(r);
    ASSERT_THAT(r.objects, SizeIs(1));
    EXPECT_EQ(r.objects[0].metadata.name, ok);
  }
  for (const std::string& bad : {std::string(254, 'a'), name253 + "z", part100 + "-", "-" + part100,
                                 part100 + "..b", "a_" + part100}) {
    ParseResult r = parse(bad, "default");
    EXPECT_THAT(r.objects, IsEmpty()) << bad;
    EXPECT_THAT(AllErrors(r), HasSubstr("metadata.name: invalid name")) << bad;
  }
  EXPECT_THAT(parse("web", std::string(63, 'n')).errors, IsEmpty());
  for (const std::string& bad : {std::string(64, 'n'), std::string("a.b"), std::string("Ns")}) {
    ParseResult r = parse("web", bad);
    EXPECT_THAT(r.objects, IsEmpty()) << bad;
    EXPECT_THAT(AllErrors(r), HasSubstr("metadata.namespace: invalid namespace")) << bad;
  }
}

}  // namespace
}  // namespace berth::controller

namespace berth::controller {
namespace {

// The fields the parser accepts at `path`, from its unknown-field error.
std::set<std::string> AcceptedFields(const std::string& document, const std::string& path) {
  ParseResult result = ParseManifests(document, "f");
  for (const ParseError& e : result.errors) {
    if (e.field != path + ".zzz" && e.field != path + "zzz") continue;
    const std::string marker = "(accepted: ";
    const size_t start = e.reason.find(marker) + marker.size();
    std::set<std::string> names;
    for (absl::string_view name :
         absl::StrSplit(e.reason.substr(start, e.reason.size() - start - 1), ", ")) {
      names.insert(std::string(name));
    }
    return names;
  }
  ADD_FAILURE() << "no unknown-field error for " << path << " in\n" << AllErrors(result);
  return {};
}

std::set<std::string> SchemaFields(const YAML::Node& schema) {
  std::set<std::string> names;
  for (const auto& property : schema["properties"]) {
    names.insert(property.first.as<std::string>());
  }
  return names;
}

TEST(SpecParserCrdTest, SchemaAndParserAcceptTheSameFields) {
  const YAML::Node crd = YAML::LoadFile(TestdataPath("../../crds/nodecontainers.berth.dev.yaml"));
  EXPECT_EQ(crd["kind"].as<std::string>(), "CustomResourceDefinition");
  EXPECT_EQ(crd["spec"]["group"].as<std::string>(), "berth.dev");
  EXPECT_EQ(crd["spec"]["names"]["kind"].as<std::string>(), kKind);
  EXPECT_EQ(crd["spec"]["names"]["shortNames"][0].as<std::string>(), "nc");
  const YAML::Node version = crd["spec"]["versions"][0];
  EXPECT_EQ(absl::StrCat("berth.dev/", version["name"].as<std::string>()), kApiVersion);
  const YAML::Node root = version["schema"]["openAPIV3Schema"];
  const YAML::Node spec = root["properties"]["spec"];
  const YAML::Node mount = spec["properties"]["mounts"]["items"];

  const std::string head =
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
      "metadata: {name: web}\n";
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b}\nzzz: 1\n", ""), SchemaFields(root));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, zzz: 1}\n", "spec"), SchemaFields(spec));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, env: [{name: A, zzz: 1}]}", "spec.env[0]"),
            SchemaFields(spec["properties"]["env"]["items"]));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, resources: {zzz: 1}}", "spec.resources"),
            SchemaFields(spec["properties"]["resources"]));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, resources: {limits: {zzz: 1}}}",
                           "spec.resources.limits"),
            SchemaFields(spec["properties"]["resources"]["properties"]["limits"]));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, mounts: [{zzz: 1}]}", "spec.mounts[0]"),
            SchemaFields(mount));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, mounts: [{hostPath: {zzz: 1}}]}",
                           "spec.mounts[0].hostPath"),
            SchemaFields(mount["properties"]["hostPath"]));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, mounts: [{tmpfs: {zzz: 1}}]}",
                           "spec.mounts[0].tmpfs"),
            SchemaFields(mount["properties"]["tmpfs"]));
  // Networking (spec_network.h).
  const YAML::Node props = spec["properties"];
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, ports: [{zzz: 1}]}", "spec.ports[0]"),
            SchemaFields(props["ports"]["items"]));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, dnsConfig: {zzz: 1}}", "spec.dnsConfig"),
            SchemaFields(props["dnsConfig"]));
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, dnsConfig: {options: [{zzz: 1}]}}",
                           "spec.dnsConfig.options[0]"),
            SchemaFields(props["dnsConfig"]["properties"]["options"]["items"]));
  EXPECT_EQ(
      AcceptedFields(head + "spec: {image: b, hostAliases: [{zzz: 1}]}", "spec.hostAliases[0]"),
      SchemaFields(props["hostAliases"]["items"]));
  // The same bounds and enums.
  const YAML::Node port = props["ports"]["items"]["properties"];
  EXPECT_EQ(port["containerPort"]["minimum"].as<int>(), 1);
  EXPECT_EQ(port["containerPort"]["maximum"].as<int>(), 65535);
  EXPECT_EQ(port["hostPort"]["minimum"].as<int>(), 0);
  EXPECT_EQ(port["hostPort"]["maximum"].as<int>(), 65535);
  EXPECT_EQ(port["name"]["maxLength"].as<int>(), 15);
  EXPECT_EQ(port["protocol"]["enum"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"TCP", "UDP"}));
  EXPECT_EQ(port["protocol"]["default"].as<std::string>(), "TCP");
  EXPECT_EQ(props["dnsPolicy"]["enum"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"Default", "None"}));
  EXPECT_EQ(props["dnsConfig"]["properties"]["nameservers"]["maxItems"].as<int>(), 3);
  EXPECT_EQ(props["dnsConfig"]["properties"]["searches"]["maxItems"].as<int>(), 32);
  EXPECT_EQ(props["hostname"]["maxLength"].as<int>(), 63);
  // The schema's patterns take what the parser takes, on samples.
  auto matches = [](const YAML::Node& schema, const std::string& value) {
    return std::regex_search(value, std::regex(schema["pattern"].as<std::string>()));
  };
  for (const std::string name : {"http", "h", "web-8080", "80-http", "a1-b2-c3", "Http", "http_1",
                                 "8080", "-http", "http-", "ht--tp", "a-1"}) {
    EXPECT_EQ(matches(port["name"], name), IsPortName(name)) << name;
  }
  for (const std::string ip :
       {"10.89.0.1", "0.0.0.0", "255.255.255.255", "::1", "fe80::1", "2001:db8::53", "300.1.2.3",
        "1.2.3", "01.2.3.4", "", "localhost", "10.0.0.1 "}) {
    EXPECT_EQ(matches(port["hostIP"], ip), IsIpAddress(ip)) << ip;
  }
  // Probes and lifecycle hooks, each with its handlers.
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    SCOPED_TRACE(probe);
    const YAML::Node schema = spec["properties"][probe];
    const std::string at = absl::StrCat("spec.", probe);
    const std::string doc = absl::StrCat(head, "spec:\n  image: b\n  ", probe, ":\n    ");
    EXPECT_EQ(AcceptedFields(doc + "zzz: 1\n", at), SchemaFields(schema));
    for (const char* handler : {"exec", "httpGet", "tcpSocket", "grpc"}) {
      EXPECT_EQ(AcceptedFields(absl::StrCat(doc, handler, ": {zzz: 1}\n"),
                               absl::StrCat(at, ".", handler)),
                SchemaFields(schema["properties"][handler]))
          << handler;
    }
    EXPECT_EQ(AcceptedFields(doc + "httpGet: {port: 1, httpHeaders: [{zzz: 1}]}\n",
                             at + ".httpGet.httpHeaders[0]"),
              SchemaFields(schema["properties"]["httpGet"]["properties"]["httpHeaders"]["items"]));
  }
  const YAML::Node lifecycle = spec["properties"]["lifecycle"];
  EXPECT_EQ(AcceptedFields(head + "spec: {image: b, lifecycle: {zzz: 1}}", "spec.lifecycle"),
            SchemaFields(lifecycle));
  for (const char* hook : {"postStart", "preStop"}) {
    SCOPED_TRACE(hook);
    const YAML::Node schema = lifecycle["properties"][hook];
    const std::string at = absl::StrCat("spec.lifecycle.", hook);
    const std::string doc =
        absl::StrCat(head, "spec:\n  image: b\n  lifecycle:\n    ", hook, ":\n      ");
    EXPECT_EQ(AcceptedFields(doc + "zzz: 1\n", at), SchemaFields(schema));
    for (const char* handler : {"exec", "httpGet", "sleep"}) {
      EXPECT_EQ(AcceptedFields(absl::StrCat(doc, handler, ": {zzz: 1}\n"),
                               absl::StrCat(at, ".", handler)),
                SchemaFields(schema["properties"][handler]))
          << handler;
    }
  }
  // The status shape and columns of CONTRACT.md.
  const std::vector<std::string> columns = {"Node", "Phase", "Restarts", "Age"};
  ASSERT_EQ(version["additionalPrinterColumns"].size(), columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    EXPECT_EQ(version["additionalPrinterColumns"][i]["name"].as<std::string>(), columns[i]);
  }
  EXPECT_EQ(version["selectableFields"][0]["jsonPath"].as<std::string>(), ".spec.nodeName");
  const YAML::Node status = root["properties"]["status"];
  EXPECT_EQ(SchemaFields(status),
            (std::set<std::string>{"phase", "restartCount", "observedGeneration", "conditions",
                                   "nodes"}));
  const YAML::Node nodes = status["properties"]["nodes"];
  EXPECT_EQ(nodes["x-kubernetes-list-type"].as<std::string>(), "map");
  EXPECT_EQ(nodes["x-kubernetes-list-map-keys"][0].as<std::string>(), "nodeName");
  EXPECT_EQ(SchemaFields(nodes["items"]),
            (std::set<std::string>{"nodeName", "phase", "observedGeneration", "containerID", "pid",
                                   "startedAt", "finishedAt", "exitCode", "reason", "message",
                                   "restartCount", "lastState", "lastError", "conditions", "image",
                                   "imageID", "ip", "ready"}));
}

}  // namespace
}  // namespace berth::controller
