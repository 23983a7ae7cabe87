// Fuzzes what registry credentials are read from: a docker config.json
// (DockerAuthConfig::Parse) and a credential helper's answer
// (ParseCredentialHelperAnswer), both with the input. Properties: a parsed
// config gives what was Set for a domain back; a helper's answer is
// credentials, nothing, or kUnavailable, never an identity token, and an
// error quotes a bounded part of the answer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "runtime/image/auth_config.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "docker_auth_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<berth::image::DockerAuthConfig> config =
      berth::image::DockerAuthConfig::Parse(input);
  if (config.ok()) {
    for (const char* domain : {"docker.io", "127.0.0.1:5000", "registry.example", ""}) {
      config->Lookup(domain);
      config->HelperFor(domain);
    }
    config->Set("fuzz.example", {"user", "pass:word"});
    std::optional<berth::image::Credentials> c = config->Lookup("fuzz.example");
    Check(c.has_value() && c->username == "user" && c->password == "pass:word",
          "Set credentials are found");
  } else {
    Check(absl::IsInvalidArgument(config.status()), "a bad config is kInvalidArgument");
  }

  for (int exit_code : {0, 1}) {
    absl::StatusOr<std::optional<berth::image::Credentials>> answer =
        berth::image::ParseCredentialHelperAnswer("helper", exit_code, input);
    if (answer.ok()) {
      if (answer->has_value()) {
        Check(exit_code == 0, "credentials only from a successful helper");
        Check((*answer)->username != "<token>", "no identity tokens");
        Check(!(*answer)->username.empty() || !(*answer)->password.empty(),
              "credentials are not empty");
      }
    } else {
      Check(absl::IsUnavailable(answer.status()), "a bad answer is kUnavailable");
      Check(answer.status().message().size() <= 1024, "errors quote a bounded part");
    }
  }
  return 0;
}
