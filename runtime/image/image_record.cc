#include "runtime/image/image_record.h"

#include "absl/strings/str_cat.h"
#include "runtime/image/reference.h"

namespace berth::image {

using nlohmann::json;

bool IsLayerMediaType(const std::string& m) {
  return m == kOciLayer || m == kOciLayerGzip || m == kOciLayerZstd || m == kDockerLayer ||
         m == kDockerLayerGzip || m == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
         m == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         m == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" ||
         m == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

json ImageRecordToJson(const ImageRecord& r) {
  json layers = json::array();
  for (const LayerDescriptor& l : r.layers) {
    layers.push_back({{"digest", l.digest},
                      {"mediaType", l.media_type},
                      {"size", l.size},
                      {"diffID", l.diff_id}});
  }
  return {{"reference", r.reference},
          {"manifestDigest", r.manifest_digest},
          {"configDigest", r.config_digest},
          {"indexDigest", r.index_digest},
          {"config", r.config},
          {"layers", layers},
          {"created", r.created_unix}};
}

namespace {

// An integer field as int64_t. nlohmann's get<int64_t>() converts a float
// too, which is undefined behaviour out of range (a record with "created":
// 1e20): only integers that fit are read.
int64_t Int64(const json& j) {
  if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t{INT64_MAX}) {
    throw json::type_error::create(302, "integer out of range", &j);
  }
  if (!j.is_number_integer()) throw json::type_error::create(302, "not an integer", &j);
  return j.get<int64_t>();
}

}  // namespace

absl::StatusOr<ImageRecord> ImageRecordFromJson(const json& j) {
  try {
    ImageRecord r;
    r.reference = j.at("reference").get<std::string>();
    r.manifest_digest = j.at("manifestDigest").get<std::string>();
    r.config_digest = j.at("configDigest").get<std::string>();
    r.index_digest = j.value("indexDigest", "");
    r.config = j.at("config");
    r.created_unix = j.contains("created") ? Int64(j["created"]) : 0;
    for (const json& l : j.at("layers")) {
      r.layers.push_back({l.at("digest").get<std::string>(), l.at("mediaType").get<std::string>(),
                          Int64(l.at("size")), l.at("diffID").get<std::string>()});
    }
    return r;
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("read image record: ", e.what()));
  }
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, const std::string& what) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, ": not an object"));
  Descriptor d;
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  d.media_type = str("mediaType");
  d.digest = str("digest");
  if (absl::Status s = ValidateDigest(d.digest); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", d.digest, ": missing or bad size"));
  }
  d.size = size->get<int64_t>();
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    auto field = [&](const char* key) {
      auto it = p->find(key);
      return it != p->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    d.platform.os = field("os");
    d.platform.architecture = field("architecture");
    d.platform.variant = field("variant");
  }
  return d;
}

}  // namespace berth::image
