#include "controller/kube/finalizers.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace berth::kube {
namespace {

constexpr int kMaxConflicts = 10;

std::vector<std::string> FinalizersOf(const nlohmann::json& meta) {
  std::vector<std::string> out;
  if (meta.contains("finalizers") && meta["finalizers"].is_array()) {
    for (const nlohmann::json& f : meta["finalizers"]) {
      if (f.is_string()) out.push_back(f.get<std::string>());
    }
  }
  return out;
}

}  // namespace

uint64_t Fnv1a64(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::string FinalizerName(const std::string& node_name) {
  if (node_name.size() <= 63) return absl::StrCat(kFinalizerPrefix, node_name);
  return absl::StrCat(kFinalizerPrefix, node_name.substr(0, 46), "-",
                      absl::StrFormat("%016x", Fnv1a64(node_name)));
}

std::string NodeContainerPath(const std::string& namespace_, const std::string& name) {
  return absl::StrCat("/apis/berth.dev/v1alpha1/namespaces/", namespace_, "/nodecontainers/", name);
}

Finalizers::Finalizers(ApiClient& client, std::string node_name)
    : client_(client), node_name_(std::move(node_name)), finalizer_(FinalizerName(node_name_)) {}

absl::Status Finalizers::Ensure(const controller::NodeContainer& object) {
  return Update(object, /*add=*/true);
}

absl::Status Finalizers::Remove(const controller::NodeContainer& object) {
  return Update(object, /*add=*/false);
}

absl::Status Finalizers::Update(const controller::NodeContainer& object, bool add) {
  const std::string& ns = object.metadata.namespace_;
  const std::string& name = object.metadata.name;
  const std::string what = absl::StrCat(add ? "add" : "remove", " finalizer ", finalizer_,
                                        add ? " to" : " from", " NodeContainer ", ns, "/", name);
  const std::string path = NodeContainerPath(ns, name);
  const std::string key = absl::StrCat(ns, "/", name);
  std::vector<std::string> finalizers = object.metadata.finalizers;
  std::string resource_version = object.metadata.resource_version;
  bool deleting = !object.metadata.deletion_timestamp.empty();
  auto has_ours = [this](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), finalizer_) != list.end();
  };
  // Without a resourceVersion the object's state is unknown, and a copy
  // that disagrees with the server's last answer is either older than it
  // (e.g. an informer's copy from before this node's own write) or shows a
  // change made since (e.g. the finalizer removed by hand): read it first.
  bool reread = resource_version.empty();
  if (!reread) {
    absl::MutexLock l(&mu_);
    auto it = answered_.find(key);
    if (it != answered_.end() && it->second != has_ours(finalizers)) reread = true;
  }
  for (int attempt = 0;; ++attempt) {
    if (reread) {
      absl::StatusOr<ApiResponse> g = client_.Request("GET", path);
      if (!g.ok()) {
        return absl::Status(g.status().code(), absl::StrCat(what, ": ", g.status().message()));
      }
      if (g->code == 404) {
        Forget(key);
        if (add) return absl::NotFoundError(absl::StrCat(what, ": the object is gone"));
        return absl::OkStatus();
      }
      if (g->code != 200) return ResponseError(*g, what);
      if (!g->body.is_object() || !g->body.contains("metadata") ||
          !g->body["metadata"].is_object()) {
        return absl::UnavailableError(absl::StrCat(what, ": the answer is not an object"));
      }
      const nlohmann::json meta = g->body["metadata"];
      finalizers = FinalizersOf(meta);
      resource_version = meta.value("resourceVersion", "");
      deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
      reread = false;
      if (deleting && !has_ours(finalizers)) {
        Forget(key);
      } else {
        Remember(key, has_ours(finalizers));
      }
    }
    if (has_ours(finalizers) == add) return absl::OkStatus();
    if (add && deleting) {
      return absl::FailedPreconditionError(absl::StrCat(what, ": the object is being deleted"));
    }
    std::vector<std::string> next;
    for (const std::string& f : finalizers) {
      if (f != finalizer_) next.push_back(f);
    }
    if (add) next.push_back(finalizer_);
    nlohmann::json patch = {{"metadata", {{"finalizers", next}}}};
    if (!resource_version.empty()) patch["metadata"]["resourceVersion"] = resource_version;
    absl::StatusOr<ApiResponse> r =
        client_.Request("PATCH", path, patch, "application/merge-patch+json");
    if (!r.ok())
      return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
    if (r->code == 200) {
      // What the server holds now, as it answered (the object, or a Status
      // when the write let a deleted object go).
      const bool answered = r->body.is_object() && r->body.contains("metadata") &&
                            r->body["metadata"].is_object() &&
                            r->body.value("kind", "") != "Status";
      const bool has = answered ? has_ours(FinalizersOf(r->body["metadata"])) : add;
      if (!add && deleting) {
        Forget(key);
      } else {
        Remember(key, has);
      }
      if (has != add) {
        return absl::UnavailableError(absl::StrCat(what, ": the server's answer ",
                                                   has ? "still lists" : "does not list", " it"));
      }
      return absl::OkStatus();
    }
    if (r->code == 404) {
      Forget(key);
      if (add) return absl::NotFoundError(absl::StrCat(what, ": the object is gone"));
      return absl::OkStatus();
    }
    if (r->code != 409) return ResponseError(*r, what);
    if (attempt + 1 >= kMaxConflicts) {
      return absl::AbortedError(
          absl::StrCat(what, ": still conflicting after ", kMaxConflicts, " attempts"));
    }
    reread = true;  // conflict: re-read and try again with the current list
  }
}

void Finalizers::Remember(const std::string& key, bool has) {
  absl::MutexLock l(&mu_);
  answered_[key] = has;
}

void Finalizers::Forget(const std::string& key) {
  absl::MutexLock l(&mu_);
  answered_.erase(key);
}

}  // namespace berth::kube
