// berthd with exactly the permissions the chart gives it: the ServiceAccount,
// ClusterRole and ClusterRoleBinding rendered by the real helm are applied to
// the API emulator (hack/kube-emulator, RBAC enforced, over TLS), berthd runs
// with a token of that ServiceAccount (from `kubectl create token`) and real
// runc, and converges a NodeContainer applied with kubectl. Without the
// chart's rule for nodecontainers/status, its status writes are refused with
// 403, so a permission the chart lacks fails here.
#include <signal.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::KubeEmulator;
using ::berth::testing::OwnedProcess;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kNamespace[] = "berth-system";
constexpr char kAdminToken[] = "chart-rbac-admin-token";
const char kObject[] =
    "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: rbac-probe\n"
    "spec:\n  nodeName: node-a\n  image: busybox\n"
    "  command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.1; done\"]\n"
    "  terminationGracePeriodSeconds: 20\n";

std::string Helm() {
  if (access(BERTH_HELM, X_OK) == 0) return BERTH_HELM;
  return runtime::FindExecutable("helm");
}

class ChartRbacE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(berth::testing::KubectlPath().empty()) << "kubectl is not installed";
    ASSERT_FALSE(Helm().empty()) << "helm is not installed";
    const std::string dir = api_world_.dir();
    // A self-signed certificate for 127.0.0.1: bearer tokens travel over TLS
    // only (kubectl sends none over plain HTTP).
    auto openssl = runtime::RunCommand(
        {runtime::FindExecutable("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "1", "-keyout", dir + "/server.key", "-out", dir + "/server.pem", "-subj",
         "/CN=kube-emulator", "-addext", "subjectAltName=IP:127.0.0.1"},
        absl::Seconds(60));
    ASSERT_TRUE(openssl.ok() && openssl->exit_code == 0)
        << (openssl.ok() ? openssl->output : openssl.status().ToString());
    auto api = KubeEmulator::Start(
        dir, {"--tls-cert=" + dir + "/server.pem", "--tls-key=" + dir + "/server.key",
              std::string("--token=") + kAdminToken, "--bookmark-interval=1"});
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = *std::move(api);
    Ok(api_->Kubectl({"apply", "-f", BERTH_SOURCE_DIR "/crds/"}));
    Ok(api_->KubectlWithFile({"apply"}, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n"));
    Ok(api_->Kubectl({"create", "namespace", kNamespace}));
    ASSERT_TRUE(node_world_.AddBusyboxImage().ok());
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "berthd log:\n" << berthd_.Log() << "\nemulator log:\n" << api_->Log();
    }
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(node_world_.RemoveContainers(), IsEmpty());
    EXPECT_THAT(node_world_.Leaks(), IsEmpty());
  }

  std::string Ok(const runtime::CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  // The chart's ServiceAccount, ClusterRole and ClusterRoleBinding as the
  // real helm renders them with the default values.
  std::string RenderRbac() {
    auto r = runtime::RunCommand(
        {Helm(), "template", "berth", BERTH_SOURCE_DIR "/charts/berth", "--namespace", kNamespace,
         "--show-only", "templates/serviceaccount.yaml", "--show-only",
         "templates/clusterrole.yaml", "--show-only", "templates/clusterrolebinding.yaml"},
        absl::Seconds(60));
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->output : r.status().ToString());
    return r.ok() ? r->output : "";
  }

  // Applies `manifests`, takes a token of the ServiceAccount and starts
  // berthd with a kubeconfig holding it (and the emulator's CA).
  void StartBerthdAs(const std::string& manifests) {
    Ok(api_->KubectlWithFile({"apply"}, manifests));
    std::string token(absl::StripAsciiWhitespace(
        Ok(api_->Kubectl({"create", "token", "berth", "-n", kNamespace}))));
    ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
    auto admin_config = runtime::ReadFile(api_->kubeconfig());
    ASSERT_TRUE(admin_config.ok()) << admin_config.status();
    const std::string admin_line = absl::StrCat("token: \"", kAdminToken, "\"");
    ASSERT_TRUE(absl::StrContains(*admin_config, admin_line)) << *admin_config;
    const std::string kubeconfig = node_world_.dir() + "/berthd-kubeconfig";
    ASSERT_TRUE(runtime::WriteFileAtomic(
                    kubeconfig,
                    absl::StrReplaceAll(*admin_config, {{admin_line, "token: \"" + token + "\""}}))
                    .ok());
    ASSERT_TRUE(berthd_
                    .Start({BERTH_BERTHD_PATH, "--node-name=node-a", "--kubeconfig=" + kubeconfig,
                            "--manifests-dir=", "--state-dir=" + node_world_.berth_state_dir(),
                            "--run-dir=" + node_world_.run_dir(),
                            "--images-dir=" + node_world_.dir() + "/images",
                            "--cgroup-parent=" + node_world_.cgroup_parent(),
                            "--monitor=" BERTH_MONITOR_PATH, "--metrics-addr=127.0.0.1:0",
                            berth::testing::NoCniFlag(node_world_), "--relist-period=100ms",
                            "--resync-period=2s", "--workers=2"},
                           node_world_.dir() + "/berthd.log")
                    .ok());
  }

  // The requests berthd made (its User-Agent), from the emulator's log.
  std::vector<json> BerthdRequests() {
    std::vector<json> out;
    json all =
        json::parse(Ok(api_->Kubectl({"get", "--raw", "/_emulator/requests"})), nullptr, false);
    if (!all.is_array()) return out;
    for (const json& r : all) {
      if (absl::StartsWith(r.value("userAgent", ""), "berthd")) out.push_back(r);
    }
    return out;
  }

  json Object() {
    runtime::CommandResult r = api_->Kubectl({"get", "nodecontainer", "rbac-probe", "-o", "json"});
    if (r.exit_code != 0) return nullptr;
    json j = json::parse(r.output, nullptr, false);
    return j.is_discarded() ? nullptr : j;
  }

  static bool RunningOnNodeA(const json& o) {
    if (o.is_null() || !o.contains("status")) return false;
    for (const json& e : o["status"].value("nodes", json::array())) {
      if (e.value("nodeName", "") == "node-a" && e.value("phase", "") == "Running" &&
          e.contains("pid")) {
        return true;
      }
    }
    return false;
  }

  TestWorld api_world_;
  TestWorld node_world_;
  std::unique_ptr<KubeEmulator> api_;
  OwnedProcess berthd_;
};

TEST_F(ChartRbacE2eTest, TheChartsRoleIsEnoughToConverge) {
  const std::string rbac = RenderRbac();
  ASSERT_TRUE(absl::StrContains(rbac, "kind: ClusterRole\n")) << rbac;
  ASSERT_FALSE(absl::StrContains(rbac, "\"*\"")) << "no wildcard: " << rbac;
  StartBerthdAs(rbac);
  Ok(api_->KubectlWithFile({"apply"}, kObject));
  json last;
  EXPECT_TRUE(WaitFor(
      [&] {
        last = Object();
        return RunningOnNodeA(last);
      },
      kWait))
      << last.dump();
  // berthd asked as its ServiceAccount (an admin token would not be checked)
  // and nothing it asked was refused.
  std::vector<json> requests = BerthdRequests();
  ASSERT_FALSE(requests.empty());
  std::map<std::string, int> verbs;
  for (const json& r : requests) {
    EXPECT_NE(r.value("code", 0), 403) << r.dump();
    EXPECT_NE(r.value("code", 0), 401) << r.dump();
    verbs[r.value("verb", "")]++;
  }
  for (const char* verb : {"list", "watch", "patch", "update", "create"}) {
    EXPECT_GT(verbs[verb], 0) << verb;
  }
  // The finalizer goes when the object is deleted: patch is enough for it.
  Ok(api_->Kubectl({"delete", "nodecontainer", "rbac-probe", "--wait=false"}));
  EXPECT_TRUE(WaitFor([&] { return Object().is_null(); }, kWait)) << Object().dump();
}

TEST_F(ChartRbacE2eTest, WithoutTheStatusRuleStatusWritesAreForbidden) {
  const std::string rbac = RenderRbac();
  // The chart's rule for the status subresource, taken out.
  const std::string rule =
      "  - apiGroups: [\"berth.dev\"]\n    resources: [\"nodecontainers/status\"]\n"
      "    verbs: [\"update\"]\n";
  ASSERT_TRUE(absl::StrContains(rbac, rule)) << rbac;
  StartBerthdAs(absl::StrReplaceAll(rbac, {{rule, ""}}));
  Ok(api_->KubectlWithFile({"apply"}, kObject));
  std::vector<json> forbidden;
  EXPECT_TRUE(WaitFor(
      [&] {
        forbidden.clear();
        for (const json& r : BerthdRequests()) {
          if (r.value("code", 0) == 403) forbidden.push_back(r);
        }
        return !forbidden.empty();
      },
      kWait));
  for (const json& r : forbidden) {
    EXPECT_EQ(r.value("method", ""), "PUT") << r.dump();
    EXPECT_TRUE(absl::EndsWith(r.value("path", ""), "/nodecontainers/rbac-probe/status"))
        << r.dump();
  }
  EXPECT_FALSE(RunningOnNodeA(Object())) << Object().dump();
  EXPECT_TRUE(WaitFor(
      [&] {
        return berthd_.CountInLog(
                   "User \\\"system:serviceaccount:berth-system:berth\\\" cannot update resource "
                   "\\\"nodecontainers/status\\\" in API group \\\"berth.dev\\\"") > 0 ||
               berthd_.CountInLog(
                   "User \"system:serviceaccount:berth-system:berth\" cannot update resource "
                   "\"nodecontainers/status\" in API group \"berth.dev\"") > 0;
      },
      kWait))
      << berthd_.Log();
}

}  // namespace
}  // namespace berth
