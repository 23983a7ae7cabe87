#include "controller/kube/testing/kube_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/kube/kubeconfig.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "yaml-cpp/yaml.h"

#ifndef BERTH_KUBE_EMULATOR
#error "BERTH_KUBE_EMULATOR must name hack/kube-emulator"
#endif
#ifndef BERTH_CRD_FILE
#error "BERTH_CRD_FILE must name the NodeContainer CRD"
#endif

namespace berth::kube::testing {

absl::Status Run(const std::vector<std::string>& argv) {
  return runtime::RunCommandOk(argv, absl::Seconds(60));
}

absl::Status MakePki(const std::string& dir, const std::string& server_san) {
  const std::string openssl = "/usr/bin/openssl";
  auto key_and_csr = [&](const std::string& name, const std::string& cn) {
    return Run({openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr",
                "-subj", "/CN=" + cn});
  };
  auto sign = [&](const std::string& name, const std::string& ext) -> absl::Status {
    if (absl::Status s = runtime::WriteFileAtomic(dir + "/" + name + ".ext", ext); !s.ok())
      return s;
    return Run({openssl, "x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.crt",
                "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", dir + "/" + name + ".crt",
                "-days", "2", "-extfile", dir + "/" + name + ".ext"});
  };
  if (absl::Status s = Run({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key",
                            "-out", dir + "/ca.crt", "-days", "2", "-subj", "/CN=berth-test-ca"});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = key_and_csr("server", "kube-emulator"); !s.ok()) return s;
  if (absl::Status s = sign(
          "server", absl::StrCat("subjectAltName=", server_san, "\nextendedKeyUsage=serverAuth\n"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = key_and_csr("client", "berth-test"); !s.ok()) return s;
  return sign("client", "extendedKeyUsage=clientAuth\n");
}

namespace {

nlohmann::json Convert(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : n) out[kv.first.Scalar()] = Convert(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : n) out.push_back(Convert(v));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      int64_t i;
      if (std::regex_match(s, std::regex("-?[0-9]+")) && absl::SimpleAtoi(s, &i)) return i;
      double d;
      if (std::regex_match(s, std::regex("-?[0-9]+\\.[0-9]+")) && absl::SimpleAtod(s, &d)) {
        return d;
      }
      return s;
    }
    default: return nullptr;
  }
}

}  // namespace

absl::StatusOr<nlohmann::json> YamlToJson(const std::string& yaml) {
  try {
    return Convert(YAML::Load(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

Emulator::Emulator(Options options) : options_(std::move(options)) {
  std::vector<std::string> flags = {"--bookmark-interval",
                                    absl::StrCat(options_.bookmark_interval)};
  if (options_.tls) {
    flags.insert(flags.end(), {"--tls-cert", options_.pki_dir + "/server.crt", "--tls-key",
                               options_.pki_dir + "/server.key"});
  }
  if (!options_.token.empty()) flags.insert(flags.end(), {"--token", options_.token});
  if (options_.client_ca) {
    flags.insert(flags.end(), {"--client-ca", options_.pki_dir + "/ca.crt",
                               "--kubeconfig-client-cert", options_.pki_dir + "/client.crt",
                               "--kubeconfig-client-key", options_.pki_dir + "/client.key"});
  }
  absl::StatusOr<std::unique_ptr<::berth::testing::KubeEmulator>> process =
      ::berth::testing::KubeEmulator::Start(dir(), flags);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return;
  }
  process_ = *std::move(process);
  kubeconfig_ = process_->kubeconfig();
  absl::StatusOr<ClusterConfig> config = LoadKubeconfig(kubeconfig());
  if (!config.ok()) {
    ADD_FAILURE() << config.status();
    return;
  }
  absl::StatusOr<std::unique_ptr<ApiClient>> client = ApiClient::Create(*config);
  if (!client.ok()) {
    ADD_FAILURE() << client.status();
    return;
  }
  admin_ = *std::move(client);
}

Emulator::~Emulator() {
  admin_.reset();
  process_.reset();  // SIGTERM, and the wait for its exit
}

std::string Emulator::url() const {
  return absl::StrCat(options_.tls ? "https" : "http", "://127.0.0.1:", port());
}

absl::StatusOr<nlohmann::json> Emulator::Call(const std::string& method, const std::string& path,
                                              const std::optional<nlohmann::json>& body,
                                              const std::string& content_type) {
  if (admin_ == nullptr) return absl::FailedPreconditionError("emulator not started");
  absl::StatusOr<ApiResponse> r = admin_->Request(method, path, body, content_type);
  if (!r.ok()) return r.status();
  if (r->code < 200 || r->code > 299) return ResponseError(*r, method + " " + path);
  return r->body;
}

absl::Status Emulator::StartedWithObject(const std::string& ns, const std::string& name) {
  if (!started()) return absl::UnavailableError("the API emulator did not start");
  if (absl::Status s = InstallCrd(); !s.ok()) return s;
  return CreateNodeContainer(ns, name, Spec()).status();
}

absl::Status Emulator::InstallCrd() {
  absl::StatusOr<std::string> yaml = runtime::ReadFile(BERTH_CRD_FILE);
  if (!yaml.ok()) return yaml.status();
  absl::StatusOr<nlohmann::json> crd = YamlToJson(*yaml);
  if (!crd.ok()) return crd.status();
  absl::StatusOr<nlohmann::json> r =
      Call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", *crd);
  if (!r.ok()) return r.status();
  // Established once the group is served.
  bool served = WaitFor([&] { return Call("GET", "/apis/berth.dev/v1alpha1/nodecontainers").ok(); },
                        absl::Seconds(10));
  return served ? absl::OkStatus() : absl::DeadlineExceededError("CRD not served");
}

absl::Status Emulator::Post(const std::string& control_path) {
  return Call("POST", control_path).status();
}

absl::StatusOr<std::vector<nlohmann::json>> Emulator::Requests() {
  absl::StatusOr<nlohmann::json> r = Call("GET", "/_emulator/requests");
  if (!r.ok()) return r.status();
  if (!r->is_array()) return absl::InternalError("requests log is not a list");
  return r->get<std::vector<nlohmann::json>>();
}

absl::Status Emulator::ClearRequests() {
  // The emulator logs a request when it arrives: let the log settle so that
  // no earlier request lands in it after the clear.
  size_t last = SIZE_MAX;
  WaitFor(
      [&] {
        absl::StatusOr<std::vector<nlohmann::json>> log = Requests();
        const size_t n = log.ok() ? log->size() : 0;
        const bool stable = n == last;
        last = n;
        if (!stable) absl::SleepFor(absl::Milliseconds(50));
        return stable;
      },
      absl::Seconds(3));
  return Call("DELETE", "/_emulator/requests").status();
}

absl::StatusOr<nlohmann::json> Emulator::CreateNodeContainer(const std::string& ns,
                                                             const std::string& name,
                                                             const nlohmann::json& spec,
                                                             const nlohmann::json& labels) {
  nlohmann::json obj = {{"apiVersion", "berth.dev/v1alpha1"},
                        {"kind", "NodeContainer"},
                        {"metadata", {{"name", name}, {"namespace", ns}}},
                        {"spec", spec}};
  if (!labels.is_null()) obj["metadata"]["labels"] = labels;
  return Call("POST", absl::StrCat("/apis/berth.dev/v1alpha1/namespaces/", ns, "/nodecontainers"),
              obj);
}

absl::Status Emulator::CreateNamespace(const std::string& name) {
  return Call("POST", "/api/v1/namespaces",
              nlohmann::json{
                  {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}})
      .status();
}

absl::Status Emulator::CreateNode(const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  return Call("POST", "/api/v1/nodes",
              nlohmann::json{{"apiVersion", "v1"},
                             {"kind", "Node"},
                             {"metadata", {{"name", name}, {"labels", labels}}}})
      .status();
}

nlohmann::json Spec(const nlohmann::json& extra) {
  nlohmann::json spec = {{"image", "busybox"}, {"command", {"sleep", "3600"}}};
  spec.merge_patch(extra);
  return spec;
}

}  // namespace berth::kube::testing
