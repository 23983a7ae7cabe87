// Unit tests of the pure parts of controller/kube: kubeconfig parsing,
// status merging, finalizer names, event keys, keys and escaping.
#include <stdlib.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/kube/api_client.h"
#include "controller/kube/finalizers.h"
#include "controller/kube/informer.h"
#include "controller/kube/kube_events.h"
#include "controller/kube/kube_source.h"
#include "controller/kube/kube_status.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/testing/kube_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::kube {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr char kKubeconfig[] = R"(apiVersion: v1
kind: Config
current-context: main
clusters:
- name: c1
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority: pki/ca.crt
- name: c2
  cluster:
    server: https://example.com
    certificate-authority-data: %s
    insecure-skip-tls-verify: true
users:
- name: u1
  user:
    client-certificate: pki/client.crt
    client-key: /ABS/client.key
    tokenFile: token
- name: u2
  user:
    token: abc
- name: plugin
  user:
    exec:
      command: aws
- name: provider
  user:
    auth-provider:
      name: gcp
contexts:
- name: main
  context: {cluster: c1, user: u1, namespace: team}
- name: second
  context: {cluster: c2, user: u2}
- name: exec
  context: {cluster: c2, user: plugin}
- name: provider
  context: {cluster: c2, user: provider}
- name: nouser
  context: {cluster: c2, user: missing}
)";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(runtime::MakeDirs(dir_.path() + "/cfg/pki").ok());
    Write("cfg/pki/ca.crt", "CA PEM");
    Write("cfg/pki/client.crt", "CERT PEM");
    Write("abs/client.key", "KEY PEM");
    Write("cfg/token", "tok\n");
    std::string text = kKubeconfig;
    text.replace(text.find("%s"), 2, absl::Base64Escape("CA2 PEM"));
    text.replace(text.find("/ABS"), 4, dir_.path() + "/abs");
    Write("cfg/config", text);
  }
  void Write(const std::string& rel, const std::string& content) {
    ASSERT_TRUE(runtime::MakeDirs(dir_.path() + "/" + rel.substr(0, rel.rfind('/'))).ok());
    ASSERT_TRUE(runtime::WriteFileAtomic(dir_.path() + "/" + rel, content).ok());
  }
  std::string path() const { return dir_.path() + "/cfg/config"; }
  TempDir dir_;
};

TEST_F(KubeconfigTest, CurrentContextWithRelativePaths) {
  absl::StatusOr<ClusterConfig> c = LoadKubeconfig(path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT PEM");
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_EQ(c->token_file, dir_.path() + "/cfg/token");
  EXPECT_EQ(c->namespace_, "team");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, NamedContextWithInlineData) {
  absl::StatusOr<ClusterConfig> c = LoadKubeconfig(path(), "second");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://example.com");
  EXPECT_EQ(c->ca_pem, "CA2 PEM");
  EXPECT_EQ(c->token, "abc");
  EXPECT_TRUE(c->token_file.empty());
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->namespace_, "default");
}

TEST_F(KubeconfigTest, ClearErrors) {
  absl::StatusOr<ClusterConfig> c = LoadKubeconfig(path(), "exec");
  EXPECT_TRUE(absl::IsUnimplemented(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("exec"));
  c = LoadKubeconfig(path(), "provider");
  EXPECT_TRUE(absl::IsUnimplemented(c.status())) << c.status();
  c = LoadKubeconfig(path(), "nope");
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("nope"));
  c = LoadKubeconfig(path(), "nouser");
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
  c = LoadKubeconfig(dir_.path() + "/missing");
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();

  // A referenced file that is missing names the file.
  ASSERT_EQ(unlink((dir_.path() + "/cfg/pki/ca.crt").c_str()), 0);
  c = LoadKubeconfig(path());
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("pki/ca.crt"));

  for (const char* bad : {"clusters: [", "- a\n- b\n", "current-context: x\ncontexts: 3\n",
                          "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: ftp://x}\n",
                          "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: https://x, "
                          "certificate-authority-data: '!!notbase64'}\n",
                          "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {}\n",
                          // No host (found by kubeconfig_fuzz).
                          "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'https://'}\n",
                          "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
                          "clusters:\n- name: c\n  cluster: {server: 'http:///api'}\n"}) {
    c = ParseKubeconfig(bad, "/", "bad");
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << bad << " -> " << c.status();
    EXPECT_THAT(c.status().message(), HasSubstr("read kubeconfig bad"));
  }
  c = ParseKubeconfig("clusters: []\n", "/", "empty");
  EXPECT_TRUE(absl::IsNotFound(c.status())) << c.status();
}

TEST(InClusterConfigTest, FromServiceAccountFiles) {
  TempDir root;
  const std::string sa = root.path() + "/var/run/secrets/kubernetes.io/serviceaccount";
  ASSERT_TRUE(runtime::MakeDirs(sa).ok());
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_TRUE(absl::IsNotFound(InClusterConfig(root.path()).status()));
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  EXPECT_TRUE(absl::IsNotFound(InClusterConfig(root.path()).status()));  // no token
  ASSERT_TRUE(runtime::WriteFileAtomic(sa + "/token", "t").ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(sa + "/ca.crt", "CA").ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(sa + "/namespace", "kube-system\n").ok());
  absl::StatusOr<ClusterConfig> c = InClusterConfig(root.path());
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->token_file, sa + "/token");
  EXPECT_EQ(c->ca_pem, "CA");
  EXPECT_EQ(c->namespace_, "kube-system");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
}

TEST(ApiClientCreateTest, RefusesUnusableConfig) {
  ClusterConfig c;
  c.server = "https://127.0.0.1:1";
  c.ca_pem = "not a certificate";
  EXPECT_TRUE(absl::IsInvalidArgument(ApiClient::Create(c).status()));
  c.ca_pem.clear();
  c.client_cert_pem = "garbage";
  c.client_key_pem = "garbage";
  EXPECT_TRUE(absl::IsInvalidArgument(ApiClient::Create(c).status()));
  c.client_cert_pem.clear();
  c.client_key_pem.clear();
  EXPECT_TRUE(ApiClient::Create(c).ok());
  c.server = "ftp://x";
  EXPECT_TRUE(absl::IsInvalidArgument(ApiClient::Create(c).status()));
}

TEST(ResponseErrorTest, CodesMapToStatus) {
  auto code = [](int c) {
    return ResponseError(ApiResponse{c, {{"message", "m"}}}, "do x").code();
  };
  EXPECT_EQ(code(404), absl::StatusCode::kNotFound);
  EXPECT_EQ(code(409), absl::StatusCode::kAborted);
  EXPECT_EQ(code(410), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(code(422), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(403), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code(429), absl::StatusCode::kUnavailable);
  EXPECT_EQ(code(503), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ResponseError(ApiResponse{409, {{"message", "conflict!"}}}, "update x").message(),
            "update x: 409 conflict!");
  EXPECT_EQ(ResponseMessage(ApiResponse{500, "plain text"}), "plain text");
}

TEST(ResponseErrorTest, CarriesRetryAfter) {
  ApiResponse r{429, "Too many requests, please try again later.\n"};
  EXPECT_EQ(RetryAfter(ResponseError(r, "get x")), absl::ZeroDuration());
  r.retry_after = absl::Seconds(2);
  absl::Status s = ResponseError(r, "get x");
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_EQ(RetryAfter(s), absl::Seconds(2));
  r.code = 503;
  EXPECT_EQ(RetryAfter(ResponseError(r, "get x")), absl::Seconds(2));
  EXPECT_EQ(RetryAfter(absl::UnavailableError("no answer")), absl::ZeroDuration());
  r.retry_after = absl::Hours(3);
  EXPECT_EQ(RetryAfter(ResponseError(r, "get x")), absl::Minutes(1));
}

TEST(KeysTest, KeysIdsAndEscaping) {
  nlohmann::json ns_obj = {{"metadata", {{"name", "a"}, {"namespace", "n"}}}};
  nlohmann::json cluster_obj = {{"metadata", {{"name", "node-1"}}}};
  EXPECT_EQ(ObjectKey(ns_obj), "n/a");
  EXPECT_EQ(ObjectKey(cluster_obj), "node-1");
  EXPECT_EQ(ObjectKey(nlohmann::json::object()), "");
  EXPECT_EQ(IdOf(ns_obj), "n.a");
  EXPECT_EQ(IdOf(cluster_obj), "default.node-1");
  // A name the API accepts that does not fit a container id: the same id
  // as the container's (ContainerIdFor).
  const std::string long_name = std::string(100, 'l') + ".x";
  controller::ObjectMeta meta;
  meta.namespace_ = "n";
  meta.name = long_name;
  EXPECT_EQ(IdOf({{"metadata", {{"name", long_name}, {"namespace", "n"}}}}),
            controller::ContainerIdFor(meta));
  EXPECT_EQ(IdOf({{"metadata", {{"name", long_name}, {"namespace", "n"}}}}).find('.'),
            std::string::npos);
  EXPECT_EQ(QueryEscape("spec.nodeName=n1"), "spec.nodeName%3Dn1");
  EXPECT_EQ(QueryEscape("app in (a,b)"), "app%20in%20%28a%2Cb%29");
}

TEST(FinalizerNameTest, ShortAndLongNodeNames) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(FinalizerName("node-1"), "node.berth.dev/node-1");
  const std::string n63(63, 'a');
  EXPECT_EQ(FinalizerName(n63), "node.berth.dev/" + n63);
  const std::string n64 = std::string(63, 'a') + "b";
  const std::string f = FinalizerName(n64);
  EXPECT_EQ(f, absl::StrCat("node.berth.dev/", std::string(46, 'a'), "-",
                            absl::StrFormat("%016x", Fnv1a64(n64))));
  EXPECT_EQ(f.size() - std::string("node.berth.dev/").size(), 63u);
  EXPECT_NE(FinalizerName(std::string(63, 'a') + "c"), f);
}

TEST(EventKeyTest, EveryPartCounts) {
  controller::NodeContainer o;
  o.metadata.uid = "u1";
  const std::string k = EventKey(o, controller::EventType::kNormal, "Started", "m");
  EXPECT_EQ(k, EventKey(o, controller::EventType::kNormal, "Started", "m"));
  EXPECT_NE(k, EventKey(o, controller::EventType::kWarning, "Started", "m"));
  EXPECT_NE(k, EventKey(o, controller::EventType::kNormal, "Pulled", "m"));
  EXPECT_NE(k, EventKey(o, controller::EventType::kNormal, "Started", "m2"));
  controller::NodeContainer other = o;
  other.metadata.uid = "u2";
  EXPECT_NE(k, EventKey(other, controller::EventType::kNormal, "Started", "m"));
  // No ambiguity from concatenation.
  EXPECT_NE(EventKey(o, controller::EventType::kNormal, "ab", "c"),
            EventKey(o, controller::EventType::kNormal, "a", "bc"));
}

controller::ContainerReport R(const std::string& phase, int restarts, int64_t gen,
                              const std::string& error = "") {
  controller::ContainerReport r;
  r.id = "default.x";
  r.namespace_ = "default";
  r.name = "x";
  r.phase = phase;
  r.restart_count = restarts;
  r.observed_generation = gen;
  r.last_error = error;
  return r;
}

const nlohmann::json& Cond(const nlohmann::json& holder, const std::string& type) {
  for (const auto& c : holder["conditions"]) {
    if (c["type"] == type) return c;
  }
  static const nlohmann::json kNull;
  return kNull;
}

TEST(StatusMergeTest, WorstPhaseOrder) {
  EXPECT_EQ(WorstPhase({}), "Pending");
  EXPECT_EQ(WorstPhase({"Running", "Succeeded"}), "Running");
  EXPECT_EQ(WorstPhase({"Running", "Pending"}), "Pending");
  EXPECT_EQ(WorstPhase({"CrashLoopBackOff", "Pending"}), "CrashLoopBackOff");
  EXPECT_EQ(WorstPhase({"CrashLoopBackOff", "Failed"}), "Failed");
  EXPECT_EQ(WorstPhase({"Error", "Failed", "Running"}), "Error");
  EXPECT_EQ(WorstPhase({"Succeeded"}), "Succeeded");
}

TEST(StatusMergeTest, ReadyIsRunningAndReadyByItsProbes) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  controller::ContainerReport r = R("Running", 0, 1);
  r.ready = false;
  nlohmann::json e = NodeStatusEntry(r, "a", nullptr, t0);
  EXPECT_EQ(e["ready"], false);
  EXPECT_EQ(Cond(e, "Ready")["status"], "False");
  EXPECT_EQ(Cond(e, "Ready")["reason"], "ContainersNotReady");
  EXPECT_EQ(Cond(e, "Ready")["message"], "containers with unready status: [x]");
  r.ready = true;
  e = NodeStatusEntry(r, "a", e, t0);
  EXPECT_EQ(Cond(e, "Ready")["status"], "True");
  EXPECT_EQ(Cond(e, "Ready")["reason"], "Running");
  // Not running is never ready, whatever was said.
  e = NodeStatusEntry(R("CrashLoopBackOff", 1, 1), "a", e, t0);
  EXPECT_EQ(Cond(e, "Ready")["status"], "False");
}

TEST(StatusMergeTest, EntriesAndSummary) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  const absl::Time t1 = t0 + absl::Hours(1);
  nlohmann::json a = NodeStatusEntry(R("Running", 1, 3), "a", nullptr, t0);
  EXPECT_EQ(a["nodeName"], "a");
  EXPECT_FALSE(a.contains("namespace"));
  EXPECT_FALSE(a.contains("name"));
  EXPECT_EQ(Cond(a, "Ready")["status"], "True");
  EXPECT_EQ(Cond(a, "Reconciled")["status"], "True");
  EXPECT_EQ(Cond(a, "Ready")["lastTransitionTime"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(Cond(a, "Ready")["observedGeneration"], 3);
  nlohmann::json other = {{"keep", "me"}};
  nlohmann::json s = MergeNodeStatus(other, "a", a, t0);
  EXPECT_EQ(s["keep"], "me");
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(Cond(s, "Ready")["status"], "True");

  nlohmann::json b = NodeStatusEntry(R("CrashLoopBackOff", 4, 2, "boom"), "b", nullptr, t0);
  EXPECT_EQ(Cond(b, "Reconciled")["status"], "False");
  EXPECT_EQ(Cond(b, "Reconciled")["message"], "boom");
  s = MergeNodeStatus(s, "b", b, t1);
  ASSERT_EQ(s["nodes"].size(), 2u);
  EXPECT_EQ(s["phase"], "CrashLoopBackOff");
  EXPECT_EQ(s["restartCount"], 5);
  EXPECT_EQ(s["observedGeneration"], 2);
  EXPECT_EQ(Cond(s, "Ready")["status"], "False");
  EXPECT_EQ(Cond(s, "Ready")["message"], "nodes: b");
  EXPECT_EQ(Cond(s, "Ready")["lastTransitionTime"], "2023-11-14T23:13:20Z");
  EXPECT_EQ(Cond(s, "Reconciled")["status"], "False");

  // Same statuses later: transition times kept, nothing changes at all.
  nlohmann::json a2 = NodeStatusEntry(R("Running", 1, 3), "a", s["nodes"][0], t1 + absl::Hours(5));
  EXPECT_EQ(a2, s["nodes"][0]);
  EXPECT_EQ(MergeNodeStatus(s, "a", a2, t1 + absl::Hours(5)), s);
  // A changed entry replaces the node's own in place.
  nlohmann::json a3 = NodeStatusEntry(R("Failed", 1, 4), "a", s["nodes"][0], t1);
  EXPECT_EQ(Cond(a3, "Ready")["lastTransitionTime"], "2023-11-14T23:13:20Z");
  s = MergeNodeStatus(s, "a", a3, t1);
  EXPECT_EQ(s["nodes"][0]["nodeName"], "a");
  EXPECT_EQ(s["phase"], "Failed");
  // Removing entries; none left: Pending.
  s = MergeNodeStatus(s, "b", nullptr, t1);
  EXPECT_EQ(s["nodes"].size(), 1u);
  EXPECT_EQ(s["restartCount"], 1);
  s = MergeNodeStatus(s, "a", nullptr, t1);
  EXPECT_FALSE(s.contains("nodes"));
  EXPECT_EQ(s["phase"], "Pending");
  EXPECT_EQ(s["restartCount"], 0);
  EXPECT_EQ(Cond(s, "Ready")["reason"], "NoNodes");
}

}  // namespace
}  // namespace berth::kube
