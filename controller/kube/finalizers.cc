#include "controller/kube/finalizers.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace berth::kube {
namespace {

constexpr int kMaxConflicts = 10;

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
  std::vector<std::string> finalizers = object.metadata.finalizers;
  std::string resource_version = object.metadata.resource_version;
  bool deleting = !object.metadata.deletion_timestamp.empty();
  // Without a resourceVersion the object's state is unknown: read it first.
  bool reread = resource_version.empty();
  for (int attempt = 0;; ++attempt) {
    if (reread) {
      absl::StatusOr<ApiResponse> g = client_.Request("GET", path);
      if (!g.ok()) {
        return absl::Status(g.status().code(), absl::StrCat(what, ": ", g.status().message()));
      }
      if (g->code == 404) {
        if (add) return absl::NotFoundError(absl::StrCat(what, ": the object is gone"));
        return absl::OkStatus();
      }
      if (g->code != 200) return ResponseError(*g, what);
      if (!g->body.is_object() || !g->body.contains("metadata") ||
          !g->body["metadata"].is_object()) {
        return absl::UnavailableError(absl::StrCat(what, ": the answer is not an object"));
      }
      const nlohmann::json meta = g->body["metadata"];
      finalizers.clear();
      if (meta.contains("finalizers") && meta["finalizers"].is_array()) {
        for (const nlohmann::json& f : meta["finalizers"]) {
          if (f.is_string()) finalizers.push_back(f.get<std::string>());
        }
      }
      resource_version = meta.value("resourceVersion", "");
      deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
      reread = false;
    }
    const bool has =
        std::find(finalizers.begin(), finalizers.end(), finalizer_) != finalizers.end();
    if (has == add) return absl::OkStatus();
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
    if (r->code == 200) return absl::OkStatus();
    if (r->code == 404) {
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

}  // namespace berth::kube
