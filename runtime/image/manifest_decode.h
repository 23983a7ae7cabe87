// Decoding of the registry JSON a pull reads, untrusted bytes all three: an
// image index (OCI index or Docker manifest list), an image manifest, and
// an image config's rootfs.diff_ids. Pure: no I/O; never throws.
#ifndef BERTH_RUNTIME_IMAGE_MANIFEST_DECODE_H_
#define BERTH_RUNTIME_IMAGE_MANIFEST_DECODE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "runtime/image/image_record.h"

namespace berth::image {

// The entries of an index, each a descriptor with its platform. `digest`
// names the index in errors. kInvalidArgument: "index <digest> has no
// manifests list", or "index entry <i>: <ParseDescriptor's cause>".
absl::StatusOr<std::vector<Descriptor>> DecodeIndex(absl::string_view body,
                                                    absl::string_view digest);

// A platform manifest: its config and layers, base first.
struct ImageManifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};

// kInvalidArgument: "manifest <digest> lacks config or layers", a bad
// descriptor ("config: ...", "layer <i>: ..."), or "layer <digest>:
// unsupported media type \"...\"" (IsLayerMediaType).
absl::StatusOr<ImageManifest> DecodeManifest(absl::string_view body, absl::string_view digest);

// An image config and what a pull takes from it.
struct ImageConfig {
  nlohmann::json config;              // a JSON object
  std::vector<std::string> diff_ids;  // one valid digest per layer
  std::string architecture;           // "" when the config names none
};

// Decodes the config of an image with `layer_count` layers. Errors:
// kInvalidArgument "config <digest> is not a JSON object" or "config
// <digest>: architecture is not a string"; kDataLoss "config <digest>
// lists <n> rootfs.diff_ids for <m> layers" or "config <digest>: bad
// rootfs.diff_ids[<i>]".
absl::StatusOr<ImageConfig> DecodeConfig(absl::string_view body, absl::string_view digest,
                                         size_t layer_count);

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_MANIFEST_DECODE_H_
