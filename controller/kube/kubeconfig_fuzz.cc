// Fuzzes kubeconfig parsing (ParseKubeconfig), with the current context and
// with a named one, relative paths resolved against a scratch directory
// holding a CA file ("ca.crt") and a token file ("token"). Properties: a
// config read has an http(s) server without a trailing '/', a client
// certificate exactly when it has a key, and a token file only when that
// file exists.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "controller/kube/kubeconfig.h"
#include "tests/fuzz_scratch.h"

namespace {

std::string dir;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "kubeconfig_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dir = ::berth::testing::FuzzScratchDir("kubeconfig-fuzz");
  std::ofstream(dir + "/ca.crt")
      << "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n";
  std::ofstream(dir + "/token") << "secret-token\n";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string content(reinterpret_cast<const char*>(data), size);
  for (const char* context : {"", "ctx"}) {
    absl::StatusOr<berth::kube::ClusterConfig> c =
        berth::kube::ParseKubeconfig(content, dir, "fuzz", context);
    if (!c.ok()) continue;
    Check(absl::StartsWith(c->server, "https://") || absl::StartsWith(c->server, "http://"),
          "server is an http(s) URL");
    Check(c->server.back() != '/', "server has no trailing slash");
    Check(c->client_cert_pem.empty() == c->client_key_pem.empty(), "certificate with key");
    struct stat st;
    Check(c->token_file.empty() || stat(c->token_file.c_str(), &st) == 0, "token file exists");
  }
  return 0;
}
