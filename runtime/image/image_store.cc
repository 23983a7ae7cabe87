#include "runtime/image/image_store.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include "runtime/image/reference.h"
#include "runtime/sys/process.h"

namespace berth::image {
namespace {

absl::Status Bad(const std::string& ref, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("resolve image \"", ref, "\": ", why));
}

std::vector<std::string> StringList(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array()) {
    for (const auto& v : j[key]) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

}  // namespace

absl::Status ParseImageReference(const std::string& reference, std::string* name,
                                 std::string* tag) {
  // The registry's grammar decides what is valid: none of its names holds
  // "..", an empty component or anything else a path must not.
  absl::StatusOr<image::Reference> parsed = image::ParseReference(reference);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->digest.empty()) {
    return Bad(reference, "digest references are not supported by the local image store");
  }
  // The store keys by the name as written ("busybox", not
  // "docker.io/library/busybox"); the tag follows the last ':' after the
  // last '/' (a registry port is not a tag).
  const size_t slash = reference.rfind('/');
  const size_t colon = reference.rfind(':');
  const bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  *name = tagged ? reference.substr(0, colon) : reference;
  *tag = parsed->tag;
  return absl::OkStatus();
}

LocalImageStore::LocalImageStore(std::string dir) : dir_(std::move(dir)) {}

bool LocalImageStore::Present(const std::string& reference) const {
  return Resolve(reference, ImagePullPolicy::kNever, {}).ok();
}

absl::StatusOr<ResolvedImage> LocalImageStore::Resolve(const std::string& reference,
                                                       ImagePullPolicy /*policy*/,
                                                       const PullAuth& /*auth*/) const {
  std::string name, tag;
  if (absl::Status s = ParseImageReference(reference, &name, &tag); !s.ok()) return s;
  // A registry's port becomes '_' on disk: overlay options cannot hold ':'.
  const std::string base =
      absl::StrCat(dir_, "/", absl::StrReplaceAll(name, {{":", "_"}}), "/", tag);
  ResolvedImage image;
  image.reference = absl::StrCat(name, ":", tag);
  const std::string rootfs = base + "/rootfs";
  image.layers = {rootfs};
  image.image_id = "dir:" + rootfs;
  struct stat st;
  if (stat(rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("resolve image ", image.reference,
                                            ": not in the local store (no ", rootfs, ")"));
  }
  absl::StatusOr<std::string> config = runtime::ReadFile(base + "/config.json");
  if (!config.ok() && !absl::IsNotFound(config.status())) {
    // Not "no config": a guess would change the spec and recreate containers.
    return absl::UnavailableError(
        absl::StrCat("resolve image ", image.reference, ": ", config.status().message()));
  }
  if (config.ok()) {
    nlohmann::json j = nlohmann::json::parse(*config, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::DataLossError(
          absl::StrCat("resolve image ", image.reference, ": ", base, "/config.json is not JSON"));
    }
    // Either a bare image config or a full one with it under "config".
    const nlohmann::json& c = j.contains("config") && j["config"].is_object() ? j["config"] : j;
    image.entrypoint = StringList(c, "Entrypoint");
    image.cmd = StringList(c, "Cmd");
    image.env = StringList(c, "Env");
    if (c.contains("WorkingDir") && c["WorkingDir"].is_string()) {
      image.working_dir = c["WorkingDir"].get<std::string>();
    }
  }
  return image;
}

}  // namespace berth::image
