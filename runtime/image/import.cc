#include "runtime/image/import.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/image/digest.h"
#include "runtime/image/reference.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"
#include "spdlog/spdlog.h"

namespace berth::image {
namespace {

using nlohmann::json;
using runtime::UniqueFd;

constexpr int64_t kMaxSmallBlob = 16 << 20;

// Where the blobs of an image come from.
class BlobProvider {
 public:
  virtual ~BlobProvider() = default;
  // A small blob (manifest, index, config), verified against `digest`.
  virtual absl::StatusOr<std::string> ReadSmall(const std::string& digest) = 0;
  // Puts blob `d` into the store, verified.
  virtual absl::Status Store(const Descriptor& d) = 0;
};

// Blobs of an OCI layout directory: <dir>/blobs/sha256/<hex>.
class LayoutDir : public BlobProvider {
 public:
  LayoutDir(ContentStore* store, std::string dir, std::string action)
      : store_(store), dir_(std::move(dir)), action_(std::move(action)) {}

  std::string Path(const std::string& digest) const {
    return absl::StrCat(dir_, "/blobs/sha256/", DigestHex(digest));
  }

  absl::StatusOr<std::string> ReadSmall(const std::string& digest) override {
    if (absl::Status s = ValidateDigest(digest); !s.ok()) return s;
    absl::StatusOr<std::string> data = runtime::ReadFile(Path(digest), kMaxSmallBlob);
    if (!data.ok())
      return absl::Status(data.status().code(),
                          absl::StrCat("blob ", digest, ": ", data.status().message()));
    if (std::string got = DigestOf(*data); got != digest) {
      return absl::DataLossError(absl::StrCat("blob ", digest, " digest mismatch: got ", got));
    }
    return data;
  }

  absl::Status Store(const Descriptor& d) override {
    const std::string path = Path(d.digest);
    return store_->Ingest(action_, d.digest, d.size, [&](int64_t offset, BlobWriter* w) {
      UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
      std::string buf(1 << 20, '\0');
      while (true) {
        ssize_t n = pread(fd.get(), buf.data(), buf.size(), w->written());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return absl::ErrnoToStatus(errno, "read " + path);
        if (n == 0) return absl::OkStatus();
        if (absl::Status s = w->Write(buf.data(), n); !s.ok()) return s;
      }
    });
  }

 private:
  ContentStore* store_;
  const std::string dir_, action_;
};

// Blobs already ingested from an archive, by their computed digests.
class StoredBlobs : public BlobProvider {
 public:
  explicit StoredBlobs(ContentStore* store) : store_(store) {}
  absl::StatusOr<std::string> ReadSmall(const std::string& digest) override {
    if (!store_->Has(digest))
      return absl::NotFoundError(absl::StrCat("blob ", digest, ": missing"));
    return store_->ReadBlob(digest, kMaxSmallBlob);
  }
  absl::Status Store(const Descriptor& d) override {
    absl::StatusOr<int64_t> size = store_->Size(d.digest);
    if (!size.ok()) return absl::NotFoundError(absl::StrCat("blob ", d.digest, ": missing"));
    if (*size != d.size) {
      return absl::DataLossError(
          absl::StrCat("blob ", d.digest, " size mismatch: got ", *size, " bytes, want ", d.size));
    }
    return absl::OkStatus();
  }

 private:
  ContentStore* store_;
};

absl::Status Prefix(const std::string& action, const absl::Status& s) {
  if (absl::StartsWith(s.message(), action)) return s;
  return absl::Status(s.code(), absl::StrCat(action, ": ", s.message()));
}

// Resolves `top` (an index or a manifest) to the platform's manifest,
// stores everything and builds the record.
absl::StatusOr<ImageRecord> ResolveImage(ContentStore* store, BlobProvider* blobs,
                                         const Descriptor& top, const Platform& platform,
                                         const std::string& action) {
  ImageRecord record;
  absl::StatusOr<std::string> body = blobs->ReadSmall(top.digest);
  if (!body.ok()) return body.status();
  json j = json::parse(*body, nullptr, false);
  if (!j.is_object())
    return absl::InvalidArgumentError(absl::StrCat("blob ", top.digest, ": not a JSON object"));
  Descriptor manifest_desc = top;
  std::string media_type = top.media_type.empty() ? j.value("mediaType", "") : top.media_type;
  if (media_type == kOciIndex || media_type == kDockerManifestList ||
      (media_type.empty() && j.contains("manifests"))) {
    std::vector<Descriptor> entries;
    for (size_t i = 0; j.contains("manifests") && i < j["manifests"].size(); ++i) {
      absl::StatusOr<Descriptor> d =
          ParseDescriptor(j["manifests"][i], absl::StrCat("index entry ", i));
      if (!d.ok()) return d.status();
      entries.push_back(*d);
    }
    absl::StatusOr<Descriptor> chosen = SelectPlatform(entries, platform);
    if (!chosen.ok()) return chosen.status();
    if (absl::Status s = store->WriteBlob(action, top.digest, *body); !s.ok()) return s;
    record.index_digest = top.digest;
    manifest_desc = *chosen;
    body = blobs->ReadSmall(manifest_desc.digest);
    if (!body.ok()) return body.status();
    j = json::parse(*body, nullptr, false);
  }
  if (!j.is_object() || !j.contains("config") || !j.contains("layers") || !j["layers"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest ", manifest_desc.digest, " lacks config or layers"));
  }
  record.manifest_digest = manifest_desc.digest;
  absl::StatusOr<Descriptor> config = ParseDescriptor(j["config"], "config");
  if (!config.ok()) return config.status();
  absl::StatusOr<std::string> config_body = blobs->ReadSmall(config->digest);
  if (!config_body.ok()) return config_body.status();
  if (absl::Status s = store->WriteBlob(action, config->digest, *config_body); !s.ok()) return s;
  record.config_digest = config->digest;
  record.config = json::parse(*config_body, nullptr, false);
  json diff_ids = record.config.is_object() && record.config.contains("rootfs")
                      ? record.config["rootfs"].value("diff_ids", json::array())
                      : json::array();
  if (!diff_ids.is_array() || diff_ids.size() != j["layers"].size()) {
    return absl::DataLossError(absl::StrCat(
        "config ", config->digest, " lists ", diff_ids.is_array() ? diff_ids.size() : 0,
        " rootfs.diff_ids for ", j["layers"].size(), " layers"));
  }
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    absl::StatusOr<Descriptor> l = ParseDescriptor(j["layers"][i], absl::StrCat("layer ", i));
    if (!l.ok()) return l.status();
    if (!IsLayerMediaType(l->media_type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", l->digest, ": unsupported media type \"", l->media_type, "\""));
    }
    std::string diff_id = diff_ids[i].is_string() ? diff_ids[i].get<std::string>() : "";
    if (!IsValidDigest(diff_id)) {
      return absl::DataLossError(
          absl::StrCat("config ", config->digest, ": bad rootfs.diff_ids[", i, "]"));
    }
    if (absl::Status s = blobs->Store(*l); !s.ok()) return s;
    record.layers.push_back({l->digest, l->media_type, l->size, diff_id});
  }
  if (absl::Status s = store->WriteBlob(action, manifest_desc.digest, *body); !s.ok()) return s;
  return record;
}

// A full reference named by an annotation, or "" for a bare tag.
std::string AnnotatedReference(const json& entry, std::string* tag) {
  if (!entry.contains("annotations") || !entry["annotations"].is_object()) return "";
  const json& a = entry["annotations"];
  std::string containerd = a.value("io.containerd.image.name", "");
  std::string name = a.value("org.opencontainers.image.ref.name", "");
  if (!containerd.empty()) {
    if (auto r = ParseReference(containerd); r.ok()) return r->String();
  }
  if (name.empty()) return "";
  if (absl::StrContains(name, "/") || absl::StrContains(name, "@")) {
    if (auto r = ParseReference(name); r.ok()) return r->String();
  }
  *tag = name;
  return "";
}

// Registers the images of an index.json's entries.
absl::StatusOr<std::vector<ImageRecord>> ImportIndex(ContentStore* store, BlobProvider* blobs,
                                                     const std::string& index_json,
                                                     const ImportOptions& options,
                                                     const std::string& action) {
  json index = json::parse(index_json, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() ||
      index["manifests"].empty()) {
    return absl::InvalidArgumentError("index.json lists no manifests");
  }
  std::optional<Reference> wanted;
  if (!options.reference.empty()) {
    absl::StatusOr<Reference> r = ParseReference(options.reference);
    if (!r.ok()) return r.status();
    wanted = *r;
  }
  // The entry options.reference names: the one tagged like it, else the first.
  size_t wanted_entry = 0;
  for (size_t i = 0; wanted && i < index["manifests"].size(); ++i) {
    std::string tag;
    std::string full = AnnotatedReference(index["manifests"][i], &tag);
    if (tag == wanted->tag || full == wanted->String()) {
      wanted_entry = i;
      break;
    }
  }
  std::vector<ImageRecord> out;
  for (size_t i = 0; i < index["manifests"].size(); ++i) {
    const json& entry = index["manifests"][i];
    std::vector<std::string> refs;
    std::string tag;
    if (std::string full = AnnotatedReference(entry, &tag); !full.empty()) refs.push_back(full);
    if (wanted && i == wanted_entry) refs.push_back(wanted->String());
    if (refs.empty()) continue;
    absl::StatusOr<Descriptor> d = ParseDescriptor(entry, absl::StrCat("index.json entry ", i));
    if (!d.ok()) return d.status();
    absl::StatusOr<ImageRecord> r = ResolveImage(store, blobs, *d, options.platform, action);
    if (!r.ok()) return r.status();
    for (const std::string& ref : refs) {
      r->reference = ref;
      r->created_unix = absl::ToUnixSeconds(absl::Now());
      if (absl::Status s = store->PutImage(*r); !s.ok()) return s;
      out.push_back(*r);
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        "the layout names no full image reference (only tags); give one to import it under");
  }
  return out;
}

bool StartsWithMagic(ContentStore* store, const std::string& digest, absl::string_view magic) {
  UniqueFd fd(open(store->BlobPath(digest).c_str(), O_RDONLY | O_CLOEXEC));
  char buf[4];
  return fd.valid() &&
         pread(fd.get(), buf, magic.size(), 0) == static_cast<ssize_t>(magic.size()) &&
         absl::string_view(buf, magic.size()) == magic;
}

// A `docker save` manifest.json: builds OCI manifests for its entries.
absl::StatusOr<std::vector<ImageRecord>> ImportDockerManifest(
    ContentStore* store, const std::string& manifest_json,
    const std::map<std::string, std::pair<std::string, int64_t>>& files,
    const ImportOptions& options, const std::string& action) {
  json entries = json::parse(manifest_json, nullptr, false);
  if (!entries.is_array() || entries.empty()) {
    return absl::InvalidArgumentError("manifest.json is not a non-empty array");
  }
  auto lookup = [&](const std::string& name) -> absl::StatusOr<std::pair<std::string, int64_t>> {
    auto it = files.find(name);
    if (it == files.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest.json names ", name, ", which the archive lacks"));
    }
    return it->second;
  };
  std::vector<ImageRecord> out;
  for (size_t i = 0; i < entries.size(); ++i) {
    const json& e = entries[i];
    if (!e.is_object() || !e.contains("Config") || !e.contains("Layers")) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest.json entry ", i, " lacks Config or Layers"));
    }
    absl::StatusOr<std::pair<std::string, int64_t>> config = lookup(e["Config"].get<std::string>());
    if (!config.ok()) return config.status();
    absl::StatusOr<std::string> config_body = store->ReadBlob(config->first, kMaxSmallBlob);
    if (!config_body.ok()) return config_body.status();
    ImageRecord record;
    record.config_digest = config->first;
    record.config = json::parse(*config_body, nullptr, false);
    json diff_ids = record.config.is_object() && record.config.contains("rootfs")
                        ? record.config["rootfs"].value("diff_ids", json::array())
                        : json::array();
    if (!diff_ids.is_array() || diff_ids.size() != e["Layers"].size()) {
      return absl::DataLossError(absl::StrCat(
          "config ", config->first, " lists ", diff_ids.is_array() ? diff_ids.size() : 0,
          " rootfs.diff_ids for ", e["Layers"].size(), " layers"));
    }
    json layers = json::array();
    for (size_t k = 0; k < e["Layers"].size(); ++k) {
      const std::string name = e["Layers"][k].get<std::string>();
      absl::StatusOr<std::pair<std::string, int64_t>> l = lookup(name);
      if (!l.ok()) return l.status();
      const std::string diff_id = diff_ids[k].is_string() ? diff_ids[k].get<std::string>() : "";
      std::string media_type = kOciLayer;
      if (StartsWithMagic(store, l->first, "\x1f\x8b")) {
        media_type = kOciLayerGzip;
      } else if (StartsWithMagic(store, l->first, "\x28\xb5\x2f\xfd")) {
        media_type = kOciLayerZstd;
      } else if (diff_id != l->first) {
        // An uncompressed layer is its own diff: they must agree.
        return absl::DataLossError(absl::StrCat("layer ", name, " digest mismatch: got ", l->first,
                                                ", the config's diff_id is ", diff_id));
      }
      record.layers.push_back({l->first, media_type, l->second, diff_id});
      layers.push_back({{"mediaType", media_type}, {"digest", l->first}, {"size", l->second}});
    }
    const std::string manifest =
        json({{"schemaVersion", 2},
              {"mediaType", kOciManifest},
              {"config",
               {{"mediaType", kOciConfig}, {"digest", config->first}, {"size", config->second}}},
              {"layers", layers}})
            .dump();
    record.manifest_digest = DigestOf(manifest);
    if (absl::Status s = store->WriteBlob(action, record.manifest_digest, manifest); !s.ok()) {
      return s;
    }
    std::vector<std::string> refs;
    if (e.contains("RepoTags") && e["RepoTags"].is_array()) {
      for (const json& t : e["RepoTags"]) {
        absl::StatusOr<Reference> r = ParseReference(t.get<std::string>());
        if (!r.ok()) return r.status();
        refs.push_back(r->String());
      }
    }
    if (!options.reference.empty() && i == 0) {
      absl::StatusOr<Reference> r = ParseReference(options.reference);
      if (!r.ok()) return r.status();
      refs.push_back(r->String());
    }
    for (const std::string& ref : refs) {
      record.reference = ref;
      record.created_unix = absl::ToUnixSeconds(absl::Now());
      if (absl::Status s = store->PutImage(record); !s.ok()) return s;
      out.push_back(record);
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        "the archive names no image (no RepoTags); give a reference to import it under");
  }
  return out;
}

bool IsMetadata(const std::string& name) {
  return name == "manifest.json" || name == "index.json" || name == "oci-layout" ||
         name == "repositories";
}

absl::StatusOr<std::vector<ImageRecord>> ImportArchive(ContentStore* store, const std::string& path,
                                                       const ImportOptions& options,
                                                       const std::string& action) {
  struct archive* a = archive_read_new();
  absl::Cleanup free_archive = [a] { archive_read_free(a); };
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  if (archive_read_open_filename(a, path.c_str(), 1 << 20) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable tar: ", archive_error_string(a)));
  }
  std::map<std::string, std::string> metadata;                   // name -> content
  std::map<std::string, std::pair<std::string, int64_t>> files;  // name -> digest, size
  // A failed import takes back the blobs it added that no record uses.
  std::vector<std::string> created;
  absl::Cleanup rollback = [&] {
    std::set<std::string> used;
    if (auto images = store->ListImages(); images.ok()) {
      for (const ImageRecord& r : *images) {
        std::set<std::string> d = ReferencedDigests(r);
        used.insert(d.begin(), d.end());
      }
    }
    for (const std::string& d : created) {
      if (!used.count(d)) (void)store->Delete(d);
    }
  };
  while (true) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return absl::DataLossError(absl::StrCat("reading the tar: ", archive_error_string(a)));
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string name = archive_entry_pathname(e);
    absl::string_view trimmed = name;
    absl::ConsumePrefix(&trimmed, "./");
    name = std::string(trimmed);
    if (IsMetadata(name)) {
      std::string content;
      char buf[1 << 16];
      ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
        content.append(buf, n);
        if (content.size() > static_cast<size_t>(kMaxSmallBlob)) {
          return absl::InvalidArgumentError(absl::StrCat(name, " is too large"));
        }
      }
      if (n < 0)
        return absl::DataLossError(absl::StrCat("reading ", name, ": ", archive_error_string(a)));
      metadata[name] = std::move(content);
      continue;
    }
    auto blob = store->IngestByContent(action, [&](BlobWriter* w) -> absl::Status {
      std::string buf(1 << 20, '\0');
      while (true) {
        ssize_t n = archive_read_data(a, buf.data(), buf.size());
        if (n < 0) {
          return absl::DataLossError(absl::StrCat("reading ", name, ": ", archive_error_string(a)));
        }
        if (n == 0) return absl::OkStatus();
        if (absl::Status s = w->Write(buf.data(), n); !s.ok()) return s;
      }
    });
    if (!blob.ok()) return blob.status();
    if (blob->created) created.push_back(blob->digest);
    // A blob named by its digest must have it.
    absl::string_view hex = name;
    if (absl::ConsumePrefix(&hex, "blobs/sha256/") ||
        (absl::ConsumeSuffix(&hex, ".json") && hex.size() == 64)) {
      if (blob->digest != absl::StrCat("sha256:", hex)) {
        return absl::DataLossError(
            absl::StrCat("blob ", name, " digest mismatch: got ", blob->digest));
      }
    }
    files[name] = {blob->digest, blob->size};
  }
  absl::StatusOr<std::vector<ImageRecord>> out =
      absl::InvalidArgumentError("neither manifest.json nor index.json in the archive");
  if (metadata.count("manifest.json")) {
    out = ImportDockerManifest(store, metadata["manifest.json"], files, options, action);
  } else if (metadata.count("index.json")) {
    StoredBlobs blobs(store);
    out = ImportIndex(store, &blobs, metadata["index.json"], options, action);
  }
  if (out.ok()) std::move(rollback).Cancel();
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ImageRecord>> ImportImage(ContentStore* store, const std::string& path,
                                                     const ImportOptions& options) {
  const std::string action = absl::StrCat("import image ", path);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, action);
  absl::StatusOr<std::vector<ImageRecord>> out;
  try {
    if (S_ISDIR(st.st_mode)) {
      absl::StatusOr<std::string> index = runtime::ReadFile(path + "/index.json", kMaxSmallBlob);
      if (!index.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(action, ": not an OCI layout: ", index.status().message()));
      }
      LayoutDir blobs(store, path, action);
      out = ImportIndex(store, &blobs, *index, options, action);
    } else {
      out = ImportArchive(store, path, options, action);
    }
  } catch (const json::exception& e) {
    out = absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", e.what()));
  }
  if (!out.ok()) return Prefix(action, out.status());
  for (const ImageRecord& r : *out) {
    spdlog::info("{}: {} (manifest {}, {} layers)", action, r.reference, r.manifest_digest,
                 r.layers.size());
  }
  return out;
}

}  // namespace berth::image
