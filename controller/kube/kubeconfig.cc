#include "controller/kube/kubeconfig.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/sys/process.h"
#include "yaml-cpp/yaml.h"

namespace berth::kube {
namespace {

// A kubeconfig's string field; "" when absent. kInvalidArgument when present
// with a non-scalar value.
absl::StatusOr<std::string> Str(const YAML::Node& map, const char* key, const std::string& what) {
  if (!map.IsMap()) return std::string();
  YAML::Node v = map[key];
  if (!v.IsDefined() || v.IsNull()) return std::string();
  if (!v.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", key, " is not a string"));
  }
  return v.Scalar();
}

// The entry named `name` of the list `key` (clusters, users, contexts), and
// its inner map (`inner`: cluster, user, context).
absl::StatusOr<YAML::Node> Named(const YAML::Node& root, const char* key, const char* inner,
                                 const std::string& name, const std::string& file) {
  YAML::Node list = root[key];
  if (list.IsDefined() && !list.IsNull() && !list.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat("read kubeconfig ", file, ": ", key, " is not a list"));
  }
  if (list.IsSequence()) {
    for (const YAML::Node& entry : list) {
      if (!entry.IsMap()) continue;
      YAML::Node n = entry["name"];
      if (n.IsScalar() && n.Scalar() == name) {
        YAML::Node in = entry[inner];
        if (!in.IsDefined() || in.IsNull()) return YAML::Node(YAML::NodeType::Map);
        if (!in.IsMap()) {
          return absl::InvalidArgumentError(absl::StrCat("read kubeconfig ", file, ": ", key, " ",
                                                         name, ": ", inner, " is not a map"));
        }
        return in;
      }
    }
  }
  return absl::NotFoundError(
      absl::StrCat("read kubeconfig ", file, ": no ", inner, " named \"", name, "\""));
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

// PEM data from `<key>-data` (base64) or from the file `<key>`.
absl::StatusOr<std::string> PemField(const YAML::Node& map, const std::string& key,
                                     const std::string& dir, const std::string& what) {
  absl::StatusOr<std::string> data = Str(map, (key + "-data").c_str(), what);
  if (!data.ok()) return data.status();
  if (!data->empty()) {
    std::string decoded;
    if (!absl::Base64Unescape(*data, &decoded)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", key, "-data is not base64"));
    }
    return decoded;
  }
  absl::StatusOr<std::string> path = Str(map, key.c_str(), what);
  if (!path.ok() || path->empty()) return path;
  absl::StatusOr<std::string> content = runtime::ReadFile(Resolve(dir, *path));
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat(what, ": read ", key, " ", Resolve(dir, *path), ": ",
                                     content.status().message()));
  }
  return content;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::StatusOr<ClusterConfig> ParseNode(const YAML::Node& root, const std::string& dir,
                                        const std::string& file, std::string context) {
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("read kubeconfig ", file, ": not a map"));
  }
  if (context.empty()) {
    absl::StatusOr<std::string> current = Str(root, "current-context", "read kubeconfig " + file);
    if (!current.ok()) return current.status();
    if (current->empty()) {
      return absl::NotFoundError(
          absl::StrCat("read kubeconfig ", file, ": no context given and no current-context"));
    }
    context = *current;
  }
  absl::StatusOr<YAML::Node> ctx = Named(root, "contexts", "context", context, file);
  if (!ctx.ok()) return ctx.status();
  const std::string ctx_what = absl::StrCat("read kubeconfig ", file, ": context ", context);
  absl::StatusOr<std::string> cluster_name = Str(*ctx, "cluster", ctx_what);
  absl::StatusOr<std::string> user_name = Str(*ctx, "user", ctx_what);
  absl::StatusOr<std::string> ns = Str(*ctx, "namespace", ctx_what);
  for (const auto* s : {&cluster_name, &user_name, &ns}) {
    if (!s->ok()) return s->status();
  }
  if (cluster_name->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(ctx_what, ": no cluster"));
  }

  ClusterConfig config;
  if (!ns->empty()) config.namespace_ = *ns;

  absl::StatusOr<YAML::Node> cluster = Named(root, "clusters", "cluster", *cluster_name, file);
  if (!cluster.ok()) return cluster.status();
  const std::string cluster_what =
      absl::StrCat("read kubeconfig ", file, ": cluster ", *cluster_name);
  absl::StatusOr<std::string> server = Str(*cluster, "server", cluster_what);
  if (!server.ok()) return server.status();
  if (server->empty()) return absl::InvalidArgumentError(absl::StrCat(cluster_what, ": no server"));
  if (!absl::StartsWith(*server, "https://") && !absl::StartsWith(*server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(cluster_what, ": server ", *server, " is not an http(s) URL"));
  }
  // A host after the scheme: "https://" or "https:///x" names no server
  // (and trimming the slashes below would leave no URL at all).
  const size_t host = server->find("://") + 3;
  if (server->size() <= host || (*server)[host] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(cluster_what, ": server ", *server, " has no host"));
  }
  config.server = *server;
  while (config.server.back() == '/') config.server.pop_back();
  absl::StatusOr<std::string> ca = PemField(*cluster, "certificate-authority", dir, cluster_what);
  if (!ca.ok()) return ca.status();
  config.ca_pem = *ca;
  absl::StatusOr<std::string> insecure = Str(*cluster, "insecure-skip-tls-verify", cluster_what);
  if (!insecure.ok()) return insecure.status();
  if (*insecure == "true") {
    config.insecure_skip_tls_verify = true;
  } else if (!insecure->empty() && *insecure != "false") {
    return absl::InvalidArgumentError(
        absl::StrCat(cluster_what, ": insecure-skip-tls-verify is not a boolean"));
  }

  if (user_name->empty()) return config;  // anonymous
  absl::StatusOr<YAML::Node> user = Named(root, "users", "user", *user_name, file);
  if (!user.ok()) return user.status();
  const std::string user_what = absl::StrCat("read kubeconfig ", file, ": user ", *user_name);
  for (const char* plugin : {"exec", "auth-provider"}) {
    YAML::Node p = (*user)[plugin];
    if (p.IsDefined() && !p.IsNull()) {
      return absl::UnimplementedError(
          absl::StrCat(user_what, ": ", plugin,
                       " credential plugins are not supported; use a token, tokenFile or "
                       "client certificate"));
    }
  }
  absl::StatusOr<std::string> username = Str(*user, "username", user_what);
  if (!username.ok()) return username.status();
  if (!username->empty()) {
    return absl::UnimplementedError(
        absl::StrCat(user_what, ": basic authentication (username/password) is not supported"));
  }
  absl::StatusOr<std::string> cert = PemField(*user, "client-certificate", dir, user_what);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = PemField(*user, "client-key", dir, user_what);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(user_what, ": client-certificate and client-key go together"));
  }
  config.client_cert_pem = *cert;
  config.client_key_pem = *key;
  absl::StatusOr<std::string> token = Str(*user, "token", user_what);
  if (!token.ok()) return token.status();
  config.token = *token;
  absl::StatusOr<std::string> token_file = Str(*user, "tokenFile", user_what);
  if (!token_file.ok()) return token_file.status();
  if (!token_file->empty()) {
    config.token_file = Resolve(dir, *token_file);
    struct stat st;
    if (stat(config.token_file.c_str(), &st) != 0) {
      return absl::NotFoundError(
          absl::StrCat(user_what, ": tokenFile ", config.token_file, ": ", strerror(errno)));
    }
  }
  return config;
}

}  // namespace

absl::StatusOr<ClusterConfig> ParseKubeconfig(const std::string& content, const std::string& dir,
                                              const std::string& name, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(content);
    return ParseNode(root, dir, name, context);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("read kubeconfig ", name, ": ", e.what()));
  }
}

absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  absl::StatusOr<std::string> content = runtime::ReadFile(path);
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat("read kubeconfig ", path, ": ", content.status().message()));
  }
  return ParseKubeconfig(*content, DirOf(path), path, context);
}

absl::StatusOr<ClusterConfig> InClusterConfig(const std::string& root) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    return absl::NotFoundError(
        "load in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set (not running in a pod)");
  }
  const std::string dir = root + "/var/run/secrets/kubernetes.io/serviceaccount";
  ClusterConfig config;
  const std::string h = host;
  config.server =
      absl::StrCat("https://", h.find(':') != std::string::npos ? "[" + h + "]" : h, ":", port);
  config.token_file = dir + "/token";
  struct stat st;
  if (stat(config.token_file.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("load in-cluster config: token file ",
                                            config.token_file, ": ", strerror(errno)));
  }
  absl::StatusOr<std::string> ca = runtime::ReadFile(dir + "/ca.crt");
  if (!ca.ok()) {
    return absl::Status(ca.status().code(),
                        absl::StrCat("load in-cluster config: ", ca.status().message()));
  }
  config.ca_pem = *ca;
  absl::StatusOr<std::string> ns = runtime::ReadFile(dir + "/namespace");
  if (ns.ok()) {
    std::string n(absl::StripAsciiWhitespace(*ns));
    if (!n.empty()) config.namespace_ = n;
  }
  return config;
}

}  // namespace berth::kube
