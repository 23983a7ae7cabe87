// A real registry for tests: Debian's `docker-registry serve` on 127.0.0.1
// with a free port and a temporary storage dir, optionally with htpasswd
// basic auth and TLS (a throw-away CA and a server cert for 127.0.0.1).
#ifndef BERTH_TESTS_REGISTRY_ENV_H_
#define BERTH_TESTS_REGISTRY_ENV_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::testing {

struct RegistryEnvOptions {
  bool tls = false;
  // Basic auth (htpasswd, bcrypt) when `user` is set.
  std::string user, password;
};

class RegistryEnv {
 public:
  // Starts the registry and waits (bounded) until it accepts connections.
  static absl::StatusOr<std::unique_ptr<RegistryEnv>> Start(RegistryEnvOptions options = {});
  // Stops the registry and removes its directory.
  ~RegistryEnv();
  RegistryEnv(const RegistryEnv&) = delete;
  RegistryEnv& operator=(const RegistryEnv&) = delete;

  // "127.0.0.1:<port>": the domain of references to it.
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // The CA that signed the server certificate (TLS only).
  std::string ca_file() const { return dir_ + "/ca.crt"; }
  // The registry's storage root (docker/registry/v2/blobs/...).
  std::string storage_dir() const { return dir_ + "/storage"; }
  // The data file of a blob in the registry's storage.
  std::string StoredBlobPath(const std::string& digest) const;
  pid_t pid() const { return pid_; }

  // Kills the registry (SIGTERM, then SIGKILL) and reaps it; idempotent.
  void Stop();
  // Starts it again on the same port and storage.
  absl::Status Restart();

  // Pushes test images (hack/make-test-images; layouts cached in the build
  // tree) to this registry.
  absl::Status PushTestImages(const std::vector<std::string>& names, bool big = false) const;

 private:
  RegistryEnv() = default;
  absl::Status Launch();

  RegistryEnvOptions options_;
  std::string dir_, host_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound to 0 and released).
absl::StatusOr<int> FreePort();

// True once something accepts TCP connections on 127.0.0.1:`port`.
bool PortAccepts(int port);

// The directory under which test image layouts are cached
// (<dir>/<name> is an OCI layout whose image is tagged "1").
std::string TestImagesDir();

// Builds the test image layouts (hack/make-test-images) without pushing.
absl::Status BuildTestImages(const std::vector<std::string>& names, bool big = false);

}  // namespace berth::testing

#endif  // BERTH_TESTS_REGISTRY_ENV_H_
