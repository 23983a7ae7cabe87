// Test support for controller/kube: the API server emulator
// (hack/kube-emulator) as a real process on a free port, with optional TLS,
// bearer token and client certificates; a temporary directory per test that
// is removed afterwards.
#ifndef BERTH_CONTROLLER_KUBE_TESTING_KUBE_TEST_UTIL_H_
#define BERTH_CONTROLLER_KUBE_TESTING_KUBE_TEST_UTIL_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/kube/api_client.h"
#include "nlohmann/json.hpp"
#include "tests/processes.h"
#include "tests/temp_dir.h"
#include "tests/test_env.h"

namespace berth::kube::testing {

using ::berth::testing::TempDir;

inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
#define BERTH_ASSERT_OK(expr)                                             \
  do {                                                                    \
    const absl::Status _berth_s = ::berth::kube::testing::ToStatus(expr); \
    ASSERT_TRUE(_berth_s.ok()) << #expr << ": " << _berth_s;              \
  } while (0)

using ::berth::testing::WaitFor;

// Runs argv (argv[0] resolved in PATH) and fails on a non-zero exit.
absl::Status Run(const std::vector<std::string>& argv);

// A test PKI made with the openssl CLI in `dir`: ca.{crt,key}; server.{crt,key}
// for IP 127.0.0.1 (or the given SAN); client.{crt,key} for CN "berth-test".
absl::Status MakePki(const std::string& dir, const std::string& server_san = "IP:127.0.0.1");

// A YAML document as JSON (quoted scalars stay strings; plain ones are typed
// as YAML 1.1 would: ints, floats, true/false, null).
absl::StatusOr<nlohmann::json> YamlToJson(const std::string& yaml);

class Emulator {
 public:
  struct Options {
    bool tls = false;
    std::string token;       // --token
    bool client_ca = false;  // --client-ca; the kubeconfig embeds the client cert
    double bookmark_interval = 1.0;
    std::string pki_dir;  // MakePki output; required for tls
  };

  // Starts the emulator and waits for its port (bounded). Fails the test
  // (ADD_FAILURE) and leaves started() false when it cannot.
  explicit Emulator(Options options);
  Emulator() : Emulator(Options()) {}
  // Stops the process (SIGTERM; SIGKILL if it lingers) and removes its
  // directory.
  ~Emulator();

  bool started() const { return process_ != nullptr; }
  int port() const { return process_ != nullptr ? process_->port() : 0; }
  std::string url() const;
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& dir() const { return dir_.path(); }

  // An unauthenticated client for control endpoints and plain-HTTP tests;
  // for TLS emulators a client from the written kubeconfig.
  ApiClient& admin() { return *admin_; }

  // Registers the NodeContainer CRD from crds/.
  absl::Status InstallCrd();

  // Control endpoints.
  absl::Status Post(const std::string& control_path);  // e.g. "/_emulator/compact"
  absl::StatusOr<std::vector<nlohmann::json>> Requests();
  // Waits for the log to settle (requests are logged when they arrive, so
  // one in flight may still land), then empties it.
  absl::Status ClearRequests();

  // Convenience: create / change / delete through the admin client; the
  // answer must be 2xx.
  absl::StatusOr<nlohmann::json> Call(const std::string& method, const std::string& path,
                                      const std::optional<nlohmann::json>& body = std::nullopt,
                                      const std::string& content_type = "application/json");
  absl::StatusOr<nlohmann::json> CreateNodeContainer(const std::string& ns, const std::string& name,
                                                     const nlohmann::json& spec,
                                                     const nlohmann::json& labels = nullptr);
  absl::Status CreateNamespace(const std::string& name);
  // The start of most tests: started, the CRD installed and one object
  // ns/name with Spec() created.
  absl::Status StartedWithObject(const std::string& ns, const std::string& name);
  absl::Status CreateNode(const std::string& name,
                          const std::map<std::string, std::string>& labels);

 private:
  Options options_;
  TempDir dir_;
  std::string kubeconfig_;
  std::unique_ptr<::berth::testing::KubeEmulator> process_;
  std::unique_ptr<ApiClient> admin_;
};

// A NodeContainer spec with a busybox image and `extra` merged in.
nlohmann::json Spec(const nlohmann::json& extra = nlohmann::json::object());

}  // namespace berth::kube::testing

#endif  // BERTH_CONTROLLER_KUBE_TESTING_KUBE_TEST_UTIL_H_
