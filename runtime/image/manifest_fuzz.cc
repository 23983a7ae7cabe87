// Fuzzes the decoding of what a registry serves a pull: the same bytes as
// an index, a manifest and a config (manifest_decode.h). Properties: every
// accepted descriptor has a valid digest and a size not negative, every
// accepted layer a media type Berth unpacks, every accepted config one
// valid diff_id per layer; a config is accepted for exactly the layer
// count it lists.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "runtime/image/manifest_decode.h"
#include "runtime/image/reference.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "manifest_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

void CheckDescriptor(const berth::image::Descriptor& d) {
  Check(berth::image::IsValidDigest(d.digest), "descriptor digest is valid");
  Check(d.size >= 0, "descriptor size is not negative");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  const std::string digest = "sha256:" + std::string(64, '0');

  if (auto index = berth::image::DecodeIndex(body, digest); index.ok()) {
    for (const berth::image::Descriptor& d : *index) CheckDescriptor(d);
  } else {
    Check(absl::IsInvalidArgument(index.status()), "a bad index is kInvalidArgument");
  }

  absl::StatusOr<berth::image::ImageManifest> manifest = berth::image::DecodeManifest(body, digest);
  if (manifest.ok()) {
    CheckDescriptor(manifest->config);
    for (const berth::image::Descriptor& d : manifest->layers) {
      CheckDescriptor(d);
      Check(berth::image::IsLayerMediaType(d.media_type), "layers are unpackable");
    }
  } else {
    Check(absl::IsInvalidArgument(manifest.status()), "a bad manifest is kInvalidArgument");
  }

  // The layer count the config itself lists (when it does), then one more.
  size_t listed = 0;
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("rootfs") && j["rootfs"].is_object() &&
      j["rootfs"].contains("diff_ids") && j["rootfs"]["diff_ids"].is_array()) {
    listed = j["rootfs"]["diff_ids"].size();
  }
  for (size_t layers : {listed, listed + 1}) {
    absl::StatusOr<berth::image::ImageConfig> config =
        berth::image::DecodeConfig(body, digest, layers);
    if (!config.ok()) continue;
    Check(layers == listed, "a config is accepted only for the layers it lists");
    Check(config->config.is_object(), "a config is an object");
    Check(config->diff_ids.size() == layers, "one diff_id per layer");
    for (const std::string& id : config->diff_ids) {
      Check(berth::image::IsValidDigest(id), "diff_ids are valid digests");
    }
  }
  return 0;
}
