// What a pulled or imported image is: the records the content store keeps,
// the descriptors manifests carry, and the media types Berth understands.
#ifndef BERTH_RUNTIME_IMAGE_IMAGE_RECORD_H_
#define BERTH_RUNTIME_IMAGE_IMAGE_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace berth::image {

inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kOciLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayer[] = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr char kDockerSchema1[] = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr char kDockerSchema1Signed[] =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

struct Platform {
  std::string os, architecture, variant;
};

// A content descriptor as manifests and indexes carry it.
struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  Platform platform;  // only in indexes
};

// One layer of an image: the compressed blob (`digest`, `media_type`,
// `size`; the blob is ContentStore::BlobPath(digest)) and the digest of its
// uncompressed tar from the config's rootfs.diff_ids (`diff_id`).
struct LayerDescriptor {
  std::string digest, media_type;
  int64_t size = 0;
  std::string diff_id;
};

// An image known to the store under a normalised reference.
struct ImageRecord {
  std::string reference;        // Reference::String(), e.g. docker.io/library/busybox:latest
  std::string manifest_digest;  // the platform manifest (never an index)
  nlohmann::json config;        // the OCI image config blob
  std::vector<LayerDescriptor> layers;  // base first
  std::string config_digest;
  std::string index_digest;  // the index the manifest was picked from, if any
  int64_t created_unix = 0;  // when the record was written (seconds)
};

// True for the layer media types Berth can unpack (tar, gzip, zstd; OCI and
// Docker spellings).
bool IsLayerMediaType(const std::string& media_type);

// JSON forms (the record files under <store>/images/).
nlohmann::json ImageRecordToJson(const ImageRecord& record);
absl::StatusOr<ImageRecord> ImageRecordFromJson(const nlohmann::json& j);

// Reads a descriptor object of a manifest or index; checks digest syntax
// and a non-negative size. `what` names it in errors ("layer 2").
absl::StatusOr<Descriptor> ParseDescriptor(const nlohmann::json& j, const std::string& what);

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_IMAGE_RECORD_H_
