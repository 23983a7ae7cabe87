// Registry credentials from a Docker-style config.json and the parsing of
// WWW-Authenticate challenges.
#ifndef BERTH_RUNTIME_IMAGE_AUTH_CONFIG_H_
#define BERTH_RUNTIME_IMAGE_AUTH_CONFIG_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::image {

struct Credentials {
  std::string username, password;
};

// The host key docker uses in config.json for a reference domain:
// "https://index.docker.io/v1/" for docker.io, the domain itself otherwise.
std::string AuthKeyForDomain(const std::string& domain);

// The domain a config.json key stands for: scheme and path dropped,
// index.docker.io / registry-1.docker.io / docker.io -> "docker.io".
std::string DomainForAuthKey(absl::string_view key);

// Credentials per registry domain, from the "auths" object of a docker
// config.json: each entry has "auth" (base64 of "user:password") or
// "username" and "password".
class DockerAuthConfig {
 public:
  DockerAuthConfig() = default;
  // kInvalidArgument for bad JSON, a bad base64 "auth" or one without ':'.
  static absl::StatusOr<DockerAuthConfig> Parse(absl::string_view config_json);
  // A missing file is an empty config; unreadable or bad ones are errors.
  static absl::StatusOr<DockerAuthConfig> Load(const std::string& path);

  // Credentials for a reference domain ("docker.io", "127.0.0.1:5000").
  std::optional<Credentials> Lookup(const std::string& domain) const;
  void Set(const std::string& domain, Credentials credentials);
  bool empty() const { return by_domain_.empty(); }

 private:
  std::map<std::string, Credentials> by_domain_;
};

// One challenge of a WWW-Authenticate header: scheme (lowercase: "basic",
// "bearer") and its parameters (keys lowercase), e.g.
//   Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Parses a WWW-Authenticate header value (one or more challenges, quoted
// or token parameter values). kInvalidArgument when malformed.
absl::StatusOr<std::vector<AuthChallenge>> ParseAuthChallenges(absl::string_view header);

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_AUTH_CONFIG_H_
