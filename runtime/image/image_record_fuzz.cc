// Fuzzes the image JSON the content store and manifests carry: a JSON
// document read as a descriptor (ParseDescriptor) and as an image record
// (ImageRecordFromJson). Properties: an accepted descriptor has a valid
// digest and a size not negative; an accepted record survives
// ImageRecordToJson and back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nlohmann/json.hpp"
#include "runtime/image/image_record.h"
#include "runtime/image/reference.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "image_record_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

bool SameRecord(const berth::image::ImageRecord& a, const berth::image::ImageRecord& b) {
  if (a.reference != b.reference || a.manifest_digest != b.manifest_digest ||
      a.config_digest != b.config_digest || a.index_digest != b.index_digest ||
      a.created_unix != b.created_unix || a.config != b.config ||
      a.layers.size() != b.layers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const berth::image::LayerDescriptor& x = a.layers[i];
    const berth::image::LayerDescriptor& y = b.layers[i];
    if (x.digest != y.digest || x.media_type != y.media_type || x.size != y.size ||
        x.diff_id != y.diff_id) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j =
      nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;

  absl::StatusOr<berth::image::Descriptor> d = berth::image::ParseDescriptor(j, "fuzz");
  if (d.ok()) {
    Check(berth::image::IsValidDigest(d->digest), "descriptor digest is valid");
    Check(d->size >= 0, "descriptor size is not negative");
  }

  absl::StatusOr<berth::image::ImageRecord> r = berth::image::ImageRecordFromJson(j);
  if (r.ok()) {
    const nlohmann::json written = berth::image::ImageRecordToJson(*r);
    absl::StatusOr<berth::image::ImageRecord> back = berth::image::ImageRecordFromJson(written);
    Check(back.ok(), "a written record reads back");
    Check(SameRecord(*r, *back), "a record survives writing and reading");
    // The store writes records as text: that too must read back.
    const nlohmann::json reparsed = nlohmann::json::parse(written.dump(), nullptr, false);
    Check(!reparsed.is_discarded() && reparsed == written, "a record's text reads back");
  }
  return 0;
}
