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

// Credentials per registry domain, from a docker config.json: the "auths"
// object (each entry has "auth", base64 of "user:password", or "username"
// and "password"), and credential helpers (programs
// docker-credential-<name> on PATH) named by "credHelpers" for a registry
// or "credsStore" for all, which come first as with docker.
class DockerAuthConfig {
 public:
  DockerAuthConfig() = default;
  // kInvalidArgument for bad JSON, a bad base64 "auth" or one without ':'.
  static absl::StatusOr<DockerAuthConfig> Parse(absl::string_view config_json);
  // A missing file is an empty config; unreadable or bad ones are errors.
  static absl::StatusOr<DockerAuthConfig> Load(const std::string& path);

  // Credentials of "auths" for a reference domain ("docker.io",
  // "127.0.0.1:5000").
  std::optional<Credentials> Lookup(const std::string& domain) const;
  void Set(const std::string& domain, Credentials credentials);
  bool empty() const { return by_domain_.empty() && helpers_.empty() && store_.empty(); }

  // The credential helper for a domain ("credHelpers", else "credsStore");
  // "" when none.
  std::string HelperFor(const std::string& domain) const;
  // Credentials for a domain: from its helper when it has one (nullopt when
  // the helper has none for it), else Lookup; Lookup too, with a warning,
  // when the helper's program is not on PATH. A helper that fails or
  // answers nonsense is kUnavailable naming it.
  absl::StatusOr<std::optional<Credentials>> Find(const std::string& domain) const;

 private:
  std::map<std::string, Credentials> by_domain_;
  std::map<std::string, std::string> helpers_;  // domain -> helper name
  std::string store_;                           // credsStore
};

// Asks the program docker-credential-`helper` (on PATH) for the credentials
// of `domain`, the way docker does: `get` with the server address on stdin.
// nullopt when it has none; kNotFound when there is no such program;
// kUnavailable when it fails or times out.
absl::StatusOr<std::optional<Credentials>> CredentialsFromHelper(const std::string& helper,
                                                                 const std::string& domain);

// Reads a credential helper's answer to `get` (its exit code and output):
// {"Username": ..., "Secret": ...} is the credentials; an empty pair, or a
// failure saying "credentials not found", is nullopt. kUnavailable naming
// `what` otherwise (another failure, an answer that is not that object, an
// identity token), quoting at most 512 bytes of the output.
absl::StatusOr<std::optional<Credentials>> ParseCredentialHelperAnswer(absl::string_view what,
                                                                       int exit_code,
                                                                       absl::string_view answer);

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
