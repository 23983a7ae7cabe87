#include "controller/kube/cluster.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace berth::kube {

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Create(const ClusterOptions& options) {
  absl::StatusOr<ClusterConfig> config = options.kubeconfig.empty()
                                             ? InClusterConfig()
                                             : LoadKubeconfig(options.kubeconfig, options.context);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::unique_ptr<ApiClient>> client = ApiClient::Create(*config);
  if (!client.ok()) return client.status();
  std::unique_ptr<Cluster> c(new Cluster());
  c->client_ = *std::move(client);

  KubeStatusSink::Options so;
  so.node_name = options.node_name;
  Cluster* self = c.get();
  so.api_object = [self](const std::string& id) { return self->source_->ApiObjectName(id); };
  c->status_ = std::make_unique<KubeStatusSink>(*c->client_, so);

  KubeEventRecorder::Options eo;
  eo.node_name = options.node_name;
  c->events_ = std::make_unique<KubeEventRecorder>(*c->client_, eo);

  KubeSource::Options src;
  src.node_name = options.node_name;
  src.events = c->events_.get();
  src.status = c->status_.get();
  c->source_ = std::make_unique<KubeSource>(*c->client_, src);
  c->finalizers_ = std::make_unique<Finalizers>(*c->client_, options.node_name);
  return c;
}

Cluster::~Cluster() { Stop(absl::ZeroDuration()); }

void Cluster::Start() { source_->Start(); }

void Cluster::Stop(absl::Duration grace) {
  if (source_) source_->Stop();
  if (grace > absl::ZeroDuration()) {
    if (status_) status_->WaitIdle(grace);
    if (events_) events_->WaitIdle(grace);
  }
}

std::map<std::string, std::string> Cluster::NodeLabels(
    const std::map<std::string, std::string>& flags) const {
  std::map<std::string, std::string> labels = flags;
  for (auto& [k, v] : source_->NodeLabels()) labels[k] = v;
  return labels;
}

absl::Status Cluster::Claim(const controller::NodeContainer& object) {
  if (object.origin != "api") return absl::OkStatus();
  return finalizers_->Ensure(object);
}

absl::Status Cluster::Release(const controller::NodeContainer& object) {
  if (object.origin != "api") return absl::OkStatus();
  return finalizers_->Remove(object);
}

absl::StatusOr<image::PullAuth> Cluster::PullAuthFor(const controller::NodeContainer& object) {
  image::PullAuth auth;
  if (object.origin != "api") return auth;
  for (const std::string& name : object.spec.image_pull_secrets) {
    const std::string what =
        absl::StrCat("read image pull secret ", object.metadata.namespace_, "/", name);
    absl::StatusOr<ApiResponse> r = client_->Request(
        "GET", absl::StrCat("/api/v1/namespaces/", object.metadata.namespace_, "/secrets/", name));
    if (!r.ok())
      return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
    if (r->code == 404) {
      // kubelet goes on without a missing secret (the pull may not need it).
      spdlog::warn("{}: not found", what);
      continue;
    }
    if (r->code != 200) return ResponseError(*r, what);
    const nlohmann::json& body = r->body;
    if (!body.is_object()) return absl::UnavailableError(absl::StrCat(what, ": not an object"));
    if (body.value("type", "") != "kubernetes.io/dockerconfigjson") {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": type is \"", body.value("type", ""),
                       "\", expected kubernetes.io/dockerconfigjson"));
    }
    std::string config;
    if (!body.contains("data") || !body["data"].is_object() ||
        !body["data"].contains(".dockerconfigjson") ||
        !body["data"][".dockerconfigjson"].is_string() ||
        !absl::Base64Unescape(body["data"][".dockerconfigjson"].get<std::string>(), &config)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": no valid data[.dockerconfigjson]"));
    }
    auth.docker_configs.push_back(std::move(config));
  }
  return auth;
}

}  // namespace berth::kube
