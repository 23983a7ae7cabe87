#include "controller/kube/kube_source.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/desired_state.h"
#include "controller/sources/manifest_source.h"
#include "controller/spec/spec_parser.h"
#include "spdlog/spdlog.h"

namespace berth::kube {
namespace {

std::string MetaString(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const nlohmann::json& meta = object["metadata"];
  if (!meta.is_object() || !meta.contains(key) || !meta[key].is_string()) return "";
  return meta[key].get<std::string>();
}

std::map<std::string, std::string> StringMap(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

// Whether an object that failed to parse still says it is for this node:
// its spec.nodeName is the node, or empty with a nodeSelector (a map of
// strings) the labels satisfy.
bool LooksForNode(const nlohmann::json& object, const std::string& node,
                  const std::map<std::string, std::string>& labels) {
  if (!object.contains("spec") || !object["spec"].is_object()) return false;
  const nlohmann::json& spec = object["spec"];
  const std::string node_name = spec.contains("nodeName") && spec["nodeName"].is_string()
                                    ? spec["nodeName"].get<std::string>()
                                    : "";
  if (!node_name.empty()) return node_name == node;
  if (!spec.contains("nodeSelector")) return true;
  if (!spec["nodeSelector"].is_object()) return false;
  for (auto it = spec["nodeSelector"].begin(); it != spec["nodeSelector"].end(); ++it) {
    if (!it.value().is_string()) return false;
    auto l = labels.find(it.key());
    if (l == labels.end() || l->second != it.value().get<std::string>()) return false;
  }
  return true;
}

}  // namespace

std::string IdOf(const nlohmann::json& object) {
  controller::ObjectMeta meta;
  meta.name = MetaString(object, "name");
  if (meta.name.empty()) return "";
  meta.namespace_ = MetaString(object, "namespace");
  if (meta.namespace_.empty()) meta.namespace_ = "default";
  return controller::ContainerIdFor(meta);
}

KubeSource::KubeSource(ApiClient& client, Options options)
    : client_(client), options_(std::move(options)) {
  for (int which = 0; which < 2; ++which) {
    Informer::Options o = options_.informer;
    o.path = kNodeContainersPath;
    o.label_selector.clear();
    o.field_selector = which == 0 ? "spec.nodeName=" + options_.node_name : "spec.nodeName=";
    o.name = "nodecontainers " + o.field_selector;
    Informer::Handlers h;
    h.on_add = [this, which](const std::string&, const nlohmann::json& obj) {
      OnObject(which, obj);
    };
    h.on_update = h.on_add;
    h.on_delete = [this, which](const std::string&, const nlohmann::json& obj) {
      OnObjectDeleted(which, obj);
    };
    informers_[which] = std::make_unique<Informer>(client, std::move(o), std::move(h));
  }
  Informer::Options o = options_.informer;
  o.path = "/api/v1/nodes";
  o.label_selector.clear();
  o.field_selector = "metadata.name=" + options_.node_name;
  o.name = "node " + options_.node_name;
  Informer::Handlers h;
  h.on_add = [this](const std::string&, const nlohmann::json& obj) { OnNode(obj, false); };
  h.on_update = h.on_add;
  h.on_delete = [this](const std::string&, const nlohmann::json& obj) { OnNode(obj, true); };
  node_informer_ = std::make_unique<Informer>(client, std::move(o), std::move(h));
}

KubeSource::~KubeSource() { Stop(); }

void KubeSource::Start() {
  // The node first, so that its labels are usually known before objects
  // with a nodeSelector arrive (a later label change re-evaluates anyway).
  node_informer_->Start();
  for (auto& i : informers_) i->Start();
  if (handler_.load() != nullptr && !first_list_.joinable()) {
    first_list_ = std::thread([this] { AwaitFirstList(); });
  }
}

void KubeSource::Stop() {
  {
    absl::MutexLock l(&lister_mu_);
    stopping_ = true;
  }
  if (first_list_.joinable()) first_list_.join();
  for (auto& i : informers_) i->Stop();
  node_informer_->Stop();
}

void KubeSource::AwaitFirstList() {
  while (!HasSynced()) {
    absl::MutexLock l(&lister_mu_);
    // Wakes at Stop or after 100 ms.
    if (lister_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(100))) return;
  }
  spdlog::info("cluster mode: the API is listed");
  if (Handler* h = handler_.load()) h->OnResync();
}

void KubeSource::Changed(const std::string& id) {
  if (Handler* h = handler_.load()) h->OnChange(id);
}

bool KubeSource::HasSynced() const {
  return informers_[0]->HasSynced() && informers_[1]->HasSynced() && node_informer_->HasSynced();
}

bool KubeSource::NodeHasSynced() const { return node_informer_->HasSynced(); }

const KubeSource::Entry* KubeSource::FindLocked(const std::string& id) const {
  for (const Entries& entries : entries_) {
    auto it = entries.find(id);
    if (it != entries.end() && it->second.object.has_value()) return &it->second;
  }
  return nullptr;
}

bool KubeSource::HeldLocked(const std::string& id) const {
  const Entry* e = FindLocked(id);
  return e != nullptr && controller::IsForNode(*e->object, options_.node_name, node_labels_);
}

std::vector<std::string> KubeSource::Ids() const {
  absl::MutexLock l(&mu_);
  std::set<std::string> ids;
  for (const Entries& entries : entries_) {
    for (const auto& [id, entry] : entries) {
      if (HeldLocked(id)) ids.insert(id);
    }
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

std::optional<controller::NodeContainer> KubeSource::Get(const std::string& id) const {
  absl::MutexLock l(&mu_);
  if (!HeldLocked(id)) return std::nullopt;
  return *FindLocked(id)->object;
}

std::optional<controller::NodeContainer> KubeSource::Lookup(const std::string& id) const {
  absl::MutexLock l(&mu_);
  const Entry* e = FindLocked(id);
  if (e == nullptr) return std::nullopt;
  controller::NodeContainer object = *e->object;
  object.origin = Name();
  return object;
}

bool KubeSource::MayRemove(const runtime::ContainerStatus& container) const {
  if (!HasSynced()) return false;
  {
    absl::MutexLock l(&mu_);
    for (const Entries& entries : entries_) {
      auto it = entries.find(container.id);
      if (it != entries.end() && !it->second.object.has_value()) return false;
    }
  }
  return !StillForThisNode(container);
}

bool KubeSource::StillForThisNode(const runtime::ContainerStatus& container) const {
  // An object that moves between this node's two watches (nodeName "" and
  // this node's name) leaves one before it enters the other. Before its
  // container goes, the API itself is asked, by the names the container
  // carries (its id may be a hash of them).
  const std::string& id = container.id;
  const controller::ContainerAnnotations carried =
      controller::ContainerAnnotations::Decode(container.annotations);
  std::string ns = carried.namespace_;
  std::string name = carried.name;
  if ((ns.empty() || name.empty()) && id.find('.') != std::string::npos) {
    // A container without the annotations: only an id of the
    // "<namespace>.<name>" form has a dot (ContainerIdFor), so it splits.
    ns = id.substr(0, id.find('.'));
    name = id.substr(id.find('.') + 1);
  }
  if (ns.empty() || name.empty()) return false;
  const std::string path =
      absl::StrCat("/apis/berth.dev/v1alpha1/namespaces/", ns, "/nodecontainers/", name);
  absl::StatusOr<ApiResponse> r =
      client_.Request("GET", path, std::nullopt, "application/json", absl::Seconds(10));
  if (!r.ok()) return true;  // unknown: keep it for now
  if (r->code == 404) return false;
  if (r->code != 200 || !r->body.is_object()) return true;
  const nlohmann::json& body = r->body;
  if (!MetaString(body, "deletionTimestamp").empty()) return false;
  std::string node_name;
  std::map<std::string, std::string> selector;
  if (body.contains("spec") && body["spec"].is_object()) {
    const nlohmann::json& spec = body["spec"];
    if (spec.contains("nodeName") && spec["nodeName"].is_string()) {
      node_name = spec["nodeName"].get<std::string>();
    }
    if (spec.contains("nodeSelector")) selector = StringMap(spec["nodeSelector"]);
  }
  bool ours = node_name == options_.node_name;
  if (node_name.empty()) {
    absl::MutexLock l(&mu_);
    ours = std::all_of(selector.begin(), selector.end(), [this](const auto& kv) {
      auto it = node_labels_.find(kv.first);
      return it != node_labels_.end() && it->second == kv.second;
    });
  }
  if (ours) {
    spdlog::info(
        "container {} (NodeContainer {}/{}): its object is still meant for this node; kept", id, ns,
        name);
  }
  return ours;
}

bool KubeSource::IsApiObject(const std::string& id) const {
  absl::MutexLock l(&mu_);
  return entries_[0].count(id) > 0 || entries_[1].count(id) > 0;
}

std::optional<controller::NamespacedName> KubeSource::ApiObjectName(const std::string& id) const {
  absl::MutexLock l(&mu_);
  for (const Entries& entries : entries_) {
    auto it = entries.find(id);
    if (it == entries.end()) continue;
    const Entry& e = it->second;
    if (e.object.has_value()) {
      return controller::NamespacedName{e.object->metadata.namespace_, e.object->metadata.name};
    }
    controller::NamespacedName n{MetaString(e.raw, "namespace"), MetaString(e.raw, "name")};
    if (n.namespace_.empty()) n.namespace_ = "default";
    return n;
  }
  return std::nullopt;
}

std::map<std::string, std::string> KubeSource::NodeLabels() const {
  absl::MutexLock l(&mu_);
  return node_labels_;
}

bool SameDesiredStateButVersion(const controller::NodeContainer& a,
                                const controller::NodeContainer& b) {
  return controller::SameDesiredState(a, b, controller::ResourceVersion::kIgnored);
}

void KubeSource::OnObject(int which, const nlohmann::json& object) {
  const std::string id = IdOf(object);
  if (id.empty()) return;
  nlohmann::json full = object;
  // List items of some servers lack apiVersion and kind.
  if (!full.contains("apiVersion")) full["apiVersion"] = controller::kApiVersion;
  if (!full.contains("kind")) full["kind"] = controller::kKind;
  absl::StatusOr<controller::NodeContainer> parsed =
      controller::ParseNodeContainer(full.dump(), "api");
  Entry entry;
  entry.resource_version = MetaString(object, "resourceVersion");
  if (parsed.ok()) {
    parsed->metadata.deletion_timestamp = MetaString(object, "deletionTimestamp");
    entry.object = *std::move(parsed);
  } else if (!MetaString(object, "deletionTimestamp").empty()) {
    // Invalid, but being deleted: what to do is clear all the same (stop
    // and delete its container, then remove the finalizer).
    controller::NodeContainer gone;
    gone.metadata.namespace_ = MetaString(object, "namespace");
    gone.metadata.name = MetaString(object, "name");
    gone.metadata.uid = MetaString(object, "uid");
    gone.metadata.resource_version = entry.resource_version;
    gone.metadata.deletion_timestamp = MetaString(object, "deletionTimestamp");
    const nlohmann::json& meta = object["metadata"];
    if (meta.contains("finalizers") && meta["finalizers"].is_array()) {
      for (const nlohmann::json& f : meta["finalizers"]) {
        if (f.is_string()) gone.metadata.finalizers.push_back(f.get<std::string>());
      }
    }
    gone.source = "api";
    entry.object = std::move(gone);
  } else {
    entry.raw = object;
  }
  bool same = false;
  {
    absl::MutexLock l(&mu_);
    Entry& stored = entries_[which][id];
    // An update that leaves what is desired as it was (a status write, most
    // often berthd's own, or a bare resourceVersion bump) is stored but
    // queues nothing: a queued id skips the failure back-off, so a failing
    // create whose error text changes would otherwise be retried at the
    // pace of its own status writes.
    same = stored.object.has_value() && entry.object.has_value() &&
           SameDesiredStateButVersion(*stored.object, *entry.object);
    stored = std::move(entry);
    if (parsed.ok()) reported_.erase(id);
  }
  if (!parsed.ok()) ReportInvalid(id, object, parsed.status());
  if (!same) Changed(id);
}

void KubeSource::OnObjectDeleted(int which, const nlohmann::json& object) {
  const std::string id = IdOf(object);
  if (id.empty()) return;
  {
    absl::MutexLock l(&mu_);
    entries_[which].erase(id);
    if (entries_[0].count(id) == 0 && entries_[1].count(id) == 0) reported_.erase(id);
  }
  Changed(id);
}

void KubeSource::OnNode(const nlohmann::json& node, bool deleted) {
  std::map<std::string, std::string> labels;
  if (!deleted && node.contains("metadata") && node["metadata"].is_object() &&
      node["metadata"].contains("labels")) {
    labels = StringMap(node["metadata"]["labels"]);
  }
  std::vector<std::string> changed;
  {
    absl::MutexLock l(&mu_);
    if (labels == node_labels_) return;
    std::set<std::string> ids;
    for (const Entries& entries : entries_) {
      for (const auto& [id, entry] : entries) ids.insert(id);
    }
    std::map<std::string, bool> before;
    for (const std::string& id : ids) before[id] = HeldLocked(id);
    node_labels_ = std::move(labels);
    for (const std::string& id : ids) {
      if (HeldLocked(id) != before[id]) changed.push_back(id);
    }
  }
  spdlog::info("node {}: labels changed; {} object(s) re-evaluated", options_.node_name,
               changed.size());
  for (const std::string& id : changed) Changed(id);
}

void KubeSource::ReportInvalid(const std::string& id, const nlohmann::json& object,
                               const absl::Status& error) {
  const std::string rv = MetaString(object, "resourceVersion");
  std::map<std::string, std::string> labels;
  {
    absl::MutexLock l(&mu_);
    auto it = reported_.find(id);
    if (it != reported_.end() && it->second == rv) return;
    reported_[id] = rv;
    labels = node_labels_;
  }
  spdlog::warn(
      "NodeContainer {}/{} (id {}, resourceVersion {}) is invalid and ignored: {}",
      MetaString(object, "namespace").empty() ? "default" : MetaString(object, "namespace"),
      MetaString(object, "name"), id, rv, std::string(error.message()));
  if (!LooksForNode(object, options_.node_name, labels)) return;
  controller::NodeContainer meta_only;
  meta_only.metadata.name = MetaString(object, "name");
  meta_only.metadata.namespace_ = MetaString(object, "namespace");
  if (meta_only.metadata.namespace_.empty()) meta_only.metadata.namespace_ = "default";
  meta_only.metadata.uid = MetaString(object, "uid");
  meta_only.metadata.resource_version = rv;
  meta_only.source = "api";
  const nlohmann::json meta = object.value("metadata", nlohmann::json::object());
  if (meta.is_object() && meta.contains("generation") && meta["generation"].is_number_integer()) {
    meta_only.metadata.generation = meta["generation"].get<int64_t>();
  }
  const std::string message = absl::StrCat("invalid NodeContainer: ", error.message());
  if (options_.events != nullptr) {
    options_.events->Record(meta_only, controller::EventType::kWarning, "Failed", message);
  }
  if (options_.status != nullptr) {
    controller::ContainerReport report;
    report.id = id;
    report.namespace_ = meta_only.metadata.namespace_;
    report.name = meta_only.metadata.name;
    report.phase = "Error";
    report.reason = "InvalidSpec";
    report.last_error = message;
    report.observed_generation = meta_only.metadata.generation;
    options_.status->Report(report);
  }
}

}  // namespace berth::kube
