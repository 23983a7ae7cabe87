#include "runtime/image/manifest_decode.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/image/reference.h"

namespace berth::image {

using nlohmann::json;

absl::StatusOr<std::vector<Descriptor>> DecodeIndex(absl::string_view body,
                                                    absl::string_view digest) {
  const json index = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const auto manifests = index.is_object() ? index.find("manifests") : index.end();
  if (manifests == index.end() || !manifests->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("index ", digest, " has no manifests list"));
  }
  std::vector<Descriptor> entries;
  for (size_t i = 0; i < manifests->size(); ++i) {
    absl::StatusOr<Descriptor> d =
        ParseDescriptor((*manifests)[i], absl::StrCat("index entry ", i));
    if (!d.ok()) return d.status();
    entries.push_back(std::move(*d));
  }
  return entries;
}

absl::StatusOr<ImageManifest> DecodeManifest(absl::string_view body, absl::string_view digest) {
  const json m = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const auto config = m.is_object() ? m.find("config") : m.end();
  const auto layers = m.is_object() ? m.find("layers") : m.end();
  if (config == m.end() || layers == m.end() || !layers->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest ", digest, " lacks config or layers"));
  }
  ImageManifest out;
  absl::StatusOr<Descriptor> c = ParseDescriptor(*config, "config");
  if (!c.ok()) return c.status();
  out.config = std::move(*c);
  for (size_t i = 0; i < layers->size(); ++i) {
    absl::StatusOr<Descriptor> d = ParseDescriptor((*layers)[i], absl::StrCat("layer ", i));
    if (!d.ok()) return d.status();
    if (!IsLayerMediaType(d->media_type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", d->digest, ": unsupported media type \"", d->media_type, "\""));
    }
    out.layers.push_back(std::move(*d));
  }
  return out;
}

absl::StatusOr<ImageConfig> DecodeConfig(absl::string_view body, absl::string_view digest,
                                         size_t layer_count) {
  ImageConfig out;
  out.config = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!out.config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("config ", digest, " is not a JSON object"));
  }
  if (auto arch = out.config.find("architecture"); arch != out.config.end()) {
    if (!arch->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config ", digest, ": architecture is not a string"));
    }
    out.architecture = arch->get<std::string>();
  }
  const json* diff_ids = nullptr;
  if (auto rootfs = out.config.find("rootfs"); rootfs != out.config.end() && rootfs->is_object()) {
    if (auto d = rootfs->find("diff_ids"); d != rootfs->end()) diff_ids = &*d;
  }
  const size_t listed = diff_ids == nullptr ? 0 : diff_ids->is_array() ? diff_ids->size() : 0;
  if ((diff_ids != nullptr && !diff_ids->is_array()) || listed != layer_count) {
    return absl::DataLossError(absl::StrCat("config ", digest, " lists ", listed,
                                            " rootfs.diff_ids for ", layer_count, " layers"));
  }
  for (size_t i = 0; i < listed; ++i) {
    const json& id = (*diff_ids)[i];
    if (!id.is_string() || !IsValidDigest(id.get_ref<const std::string&>())) {
      return absl::DataLossError(absl::StrCat("config ", digest, ": bad rootfs.diff_ids[", i, "]"));
    }
    out.diff_ids.push_back(id.get<std::string>());
  }
  return out;
}

}  // namespace berth::image
