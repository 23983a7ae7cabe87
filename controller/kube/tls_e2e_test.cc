// TLS, bearer tokens and client certificates against the real API server
// emulator, configured through the kubeconfig the emulator writes.
#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/kube/api_client.h"
#include "controller/kube/informer.h"
#include "controller/kube/kube_source.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/testing/kube_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::kube {
namespace {

using testing::Emulator;
using testing::MakePki;
using testing::Spec;
using testing::TempDir;
using testing::WaitFor;

// The answer code of GET /api/v1/namespaces with `config`, or -1 when no
// answer came (TLS failure).
int Code(const ClusterConfig& config) {
  absl::StatusOr<std::unique_ptr<ApiClient>> client = ApiClient::Create(config);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return -2;
  absl::StatusOr<ApiResponse> r = (*client)->Request("GET", "/api/v1/namespaces");
  if (!r.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
    return -1;
  }
  return r->code;
}

TEST(TlsTest, CaTokenAndClientCertificateFromKubeconfig) {
  TempDir pki, other_pki;
  BERTH_ASSERT_OK(MakePki(pki.path()));
  BERTH_ASSERT_OK(MakePki(other_pki.path()));
  Emulator::Options o;
  o.tls = true;
  o.token = "s3cret-token";
  o.client_ca = true;
  o.pki_dir = pki.path();
  Emulator emu(o);
  ASSERT_TRUE(emu.started());
  absl::StatusOr<ClusterConfig> config = LoadKubeconfig(emu.kubeconfig());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, emu.url());
  EXPECT_FALSE(config->ca_pem.empty());
  EXPECT_FALSE(config->client_cert_pem.empty());
  EXPECT_EQ(config->token, "s3cret-token");
  EXPECT_FALSE(config->insecure_skip_tls_verify);

  EXPECT_EQ(Code(*config), 200);
  ClusterConfig token_only = *config;
  token_only.client_cert_pem.clear();
  token_only.client_key_pem.clear();
  EXPECT_EQ(Code(token_only), 200);
  ClusterConfig cert_only = *config;
  cert_only.token.clear();
  EXPECT_EQ(Code(cert_only), 200);
  ClusterConfig anonymous = token_only;
  anonymous.token.clear();
  EXPECT_EQ(Code(anonymous), 401);
  ClusterConfig wrong_token = *config;
  wrong_token.token = "wrong";
  EXPECT_EQ(Code(wrong_token), 401);

  // The kubeconfig trusts the server's own certificate; the CA that
  // signed it works as well.
  absl::StatusOr<std::string> ca = runtime::ReadFile(pki.path() + "/ca.crt");
  ASSERT_TRUE(ca.ok());
  ClusterConfig signing_ca = *config;
  signing_ca.ca_pem = *ca;
  EXPECT_EQ(Code(signing_ca), 200);

  // A server certificate from a CA we do not trust: no answer, unless
  // verification is switched off.
  absl::StatusOr<std::string> other_ca = runtime::ReadFile(other_pki.path() + "/ca.crt");
  ASSERT_TRUE(other_ca.ok());
  ClusterConfig wrong_ca = *config;
  wrong_ca.ca_pem = *other_ca;
  EXPECT_EQ(Code(wrong_ca), -1);
  ClusterConfig insecure = wrong_ca;
  insecure.insecure_skip_tls_verify = true;
  EXPECT_EQ(Code(insecure), 200);

  // Watches work over TLS too.
  BERTH_ASSERT_OK(emu.InstallCrd());
  absl::StatusOr<std::unique_ptr<ApiClient>> client = ApiClient::Create(*config);
  ASSERT_TRUE(client.ok());
  Informer::Options io;
  io.path = kNodeContainersPath;
  io.name = "tls";
  Informer informer(**client, io, {});
  informer.Start();
  ASSERT_TRUE(WaitFor([&] { return informer.HasSynced(); }, absl::Seconds(10)));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "over-tls", Spec()));
  EXPECT_TRUE(
      WaitFor([&] { return informer.Get("default/over-tls").has_value(); }, absl::Seconds(10)));
  informer.Stop();
}

TEST(TlsTest, ServerNameIsVerified) {
  TempDir pki;
  BERTH_ASSERT_OK(MakePki(pki.path(), "DNS:somewhere-else.example"));
  Emulator::Options o;
  o.tls = true;
  o.pki_dir = pki.path();
  Emulator emu(o);
  ASSERT_TRUE(emu.started());
  absl::StatusOr<std::string> ca = runtime::ReadFile(pki.path() + "/ca.crt");
  ASSERT_TRUE(ca.ok());
  ClusterConfig config;
  config.server = emu.url();
  config.ca_pem = *ca;
  EXPECT_EQ(Code(config), -1);  // the CA is right, the name is not
  config.insecure_skip_tls_verify = true;
  EXPECT_EQ(Code(config), 200);
}

void WriteToken(const std::string& path, const std::string& token, int64_t mtime) {
  {
    std::ofstream f(path, std::ios::trunc);
    f << token << "\n";
  }
  struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(TokenTest, RotatedTokenFileIsReread) {
  Emulator::Options o;
  o.token = "second-token";
  Emulator emu(o);
  ASSERT_TRUE(emu.started());
  TempDir dir;
  const std::string token_file = dir.path() + "/token";
  WriteToken(token_file, "first-token", 1700000000);
  ClusterConfig config;
  config.server = emu.url();
  config.token_file = token_file;
  absl::StatusOr<std::unique_ptr<ApiClient>> client = ApiClient::Create(config);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<ApiResponse> r = (*client)->Request("GET", "/api/v1/namespaces");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 401);
  EXPECT_EQ((*client)->AuthorizationHeader(), "Bearer first-token");
  // The kubelet rotates the projected token: same size, new content and
  // modification time.
  WriteToken(token_file, "second-token", 1700000100);
  r = (*client)->Request("GET", "/api/v1/namespaces");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ((*client)->AuthorizationHeader(), "Bearer second-token");
}

}  // namespace
}  // namespace berth::kube
