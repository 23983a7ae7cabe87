// Where the Kubernetes API server is and how to authenticate to it: from a
// kubeconfig file (as kubectl reads it) or from the service account a pod
// runs with (in-cluster).
//
// TLS is verified by default; only `insecure-skip-tls-verify: true` in the
// kubeconfig turns verification off. Credential plugins (exec,
// auth-provider) are not supported: they are refused with kUnimplemented
// rather than silently ignored.
#ifndef BERTH_CONTROLLER_KUBE_KUBECONFIG_H_
#define BERTH_CONTROLLER_KUBE_KUBECONFIG_H_

#include <string>

#include "absl/status/statusor.h"

namespace berth::kube {

struct ClusterConfig {
  std::string server;           // "https://host:port" (or http:// for tests)
  std::string ca_pem;           // PEM of the CA(s) to trust; empty: system CAs
  std::string client_cert_pem;  // PEM client certificate (chain); optional
  std::string client_key_pem;   // PEM private key of client_cert_pem
  std::string token;            // bearer token, fixed
  // Bearer token read from this file, re-read whenever it changes (service
  // account token rotation). Wins over `token` when set.
  std::string token_file;
  bool insecure_skip_tls_verify = false;
  std::string namespace_ = "default";  // the context's namespace
};

// Reads the kubeconfig at `path` and resolves `context` (empty: the file's
// current-context) to a ClusterConfig. certificate-authority,
// client-certificate, client-key and tokenFile may be paths (relative ones
// are resolved against the kubeconfig's directory) or, for the first three,
// base64 "-data" fields; files are read now, except tokenFile, which is only
// checked for existence and then read by the client on every change.
// Errors: kNotFound (file, context, cluster or user missing),
// kInvalidArgument (malformed YAML, bad base64, no server, cert without key),
// kUnimplemented (exec or auth-provider credential plugins,
// username/password).
absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path,
                                             const std::string& context = "");

// The same from a kubeconfig's content; `dir` resolves relative paths and
// `name` names it in errors.
absl::StatusOr<ClusterConfig> ParseKubeconfig(const std::string& content, const std::string& dir,
                                              const std::string& name,
                                              const std::string& context = "");

// The service account config of a pod: server from KUBERNETES_SERVICE_HOST
// and KUBERNETES_SERVICE_PORT, token file, CA and namespace from
// <root>/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}.
// `root` is "" in production and a temporary directory in tests.
// kNotFound when not running in a cluster (variables or files missing).
absl::StatusOr<ClusterConfig> InClusterConfig(const std::string& root = "");

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_KUBECONFIG_H_
