#include "runtime/image/puller.h"

#include <sys/utsname.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/image/digest.h"
#include "runtime/image/manifest_decode.h"
#include "runtime/image/reference.h"
#include "spdlog/spdlog.h"

namespace berth::image {
namespace {

using nlohmann::json;

constexpr absl::Duration kMaxSharedPullWait = absl::Hours(1);

absl::Status Prefix(const std::string& action, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(action, ": ", s.message()));
}

std::string PlatformString(const Platform& p) {
  std::string s = absl::StrCat(p.os, "/", p.architecture);
  if (!p.variant.empty()) absl::StrAppend(&s, "/", p.variant);
  return s;
}

}  // namespace

Platform NodePlatform() {
  Platform p{"linux", "", ""};
  struct utsname u;
  std::string m = uname(&u) == 0 ? u.machine : "";
  if (m == "x86_64")
    p.architecture = "amd64";
  else if (m == "aarch64" || m == "arm64")
    p.architecture = "arm64";
  else if (m == "armv7l") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (m == "armv6l") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (m == "i386" || m == "i686")
    p.architecture = "386";
  else if (m == "ppc64le")
    p.architecture = "ppc64le";
  else if (m == "s390x")
    p.architecture = "s390x";
  else if (m == "riscv64")
    p.architecture = "riscv64";
  else
    p.architecture = m;
  return p;
}

absl::StatusOr<Descriptor> SelectPlatform(const std::vector<Descriptor>& manifests,
                                          const Platform& want) {
  const Descriptor* loose = nullptr;
  std::vector<std::string> have;
  for (const Descriptor& d : manifests) {
    have.push_back(PlatformString(d.platform));
    if (d.platform.os != want.os || d.platform.architecture != want.architecture) continue;
    if (d.platform.variant == want.variant) return d;
    if ((d.platform.variant.empty() || want.variant.empty()) && loose == nullptr) loose = &d;
  }
  if (loose != nullptr) return *loose;
  return absl::NotFoundError(absl::StrCat("no manifest for ", PlatformString(want),
                                          " in the index (it has ", absl::StrJoin(have, ", "),
                                          ")"));
}

std::set<std::string> ReferencedDigests(const ImageRecord& r) {
  std::set<std::string> out = {r.manifest_digest, r.config_digest};
  if (!r.index_digest.empty()) out.insert(r.index_digest);
  for (const LayerDescriptor& l : r.layers) out.insert(l.digest);
  return out;
}

struct Puller::Flight {
  bool done = false;
  absl::StatusOr<ImageRecord> result = absl::UnknownError("not done");
};

Puller::Puller(ContentStore* store, RegistryClient* client) : store_(store), client_(client) {}

absl::StatusOr<ImageRecord> Puller::Pull(const std::string& reference, const PullOptions& options) {
  absl::StatusOr<Reference> ref = ParseReference(reference);
  if (!ref.ok()) return Prefix(absl::StrCat("pull image ", reference), ref.status());
  const std::string key = ref->String();
  std::shared_ptr<Flight> flight;
  {
    absl::MutexLock lock(&mu_);
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      std::shared_ptr<Flight> other = it->second;
      // The leader's requests are bounded by the client's timeouts; this
      // only bounds a pull that keeps making progress for very long.
      if (!mu_.AwaitWithTimeout(absl::Condition(&other->done), kMaxSharedPullWait)) {
        return absl::UnavailableError(
            absl::StrCat("pull image ", key, ": timed out waiting for the same pull in progress"));
      }
      return other->result;
    }
    flight = std::make_shared<Flight>();
    flights_[key] = flight;
  }
  absl::StatusOr<ImageRecord> result;
  {
    absl::ReaderMutexLock gc(&gc_mu_);
    try {
      result = DoPull(*ref, options);
    } catch (const json::exception& e) {
      result = absl::InvalidArgumentError(
          absl::StrCat("pull image ", key, ": malformed manifest or config: ", e.what()));
    }
  }
  absl::MutexLock lock(&mu_);
  flight->result = result;
  flight->done = true;
  flights_.erase(key);
  return result;
}

absl::StatusOr<ImageRecord> Puller::DoPull(const Reference& ref, const PullOptions& options) {
  const std::string action = absl::StrCat("pull image ", ref.String());
  const absl::Time begin = absl::Now();
  ImageRecord record;
  record.reference = ref.String();

  absl::StatusOr<FetchedManifest> top = client_->GetManifest(ref, ref.TagOrDigest());
  if (!top.ok()) return Prefix(action, top.status());
  FetchedManifest manifest = std::move(*top);
  if (manifest.media_type == kOciIndex || manifest.media_type == kDockerManifestList) {
    record.index_digest = manifest.digest;
    absl::StatusOr<std::vector<Descriptor>> entries = DecodeIndex(manifest.body, manifest.digest);
    if (!entries.ok()) return Prefix(action, entries.status());
    absl::StatusOr<Descriptor> chosen = SelectPlatform(*entries, options.platform);
    if (!chosen.ok()) return Prefix(action, chosen.status());
    if (absl::Status s = store_->WriteBlob(action, manifest.digest, manifest.body); !s.ok()) {
      return s;
    }
    spdlog::info("{}: index {} -> {} manifest {}", action, manifest.digest,
                 PlatformString(chosen->platform), chosen->digest);
    absl::StatusOr<FetchedManifest> m = client_->GetManifest(ref, chosen->digest);
    if (!m.ok()) return Prefix(action, m.status());
    if (static_cast<int64_t>(m->body.size()) != chosen->size) {
      return absl::DataLossError(absl::StrCat(action, ": manifest ", chosen->digest,
                                              " size mismatch: got ", m->body.size(),
                                              " bytes, the index says ", chosen->size));
    }
    if (m->media_type != kOciManifest && m->media_type != kDockerManifest) {
      return absl::InvalidArgumentError(absl::StrCat(action, ": index entry ", chosen->digest,
                                                     " is a ", m->media_type, ", not a manifest"));
    }
    manifest = std::move(*m);
  }
  record.manifest_digest = manifest.digest;
  absl::StatusOr<ImageManifest> decoded = DecodeManifest(manifest.body, manifest.digest);
  if (!decoded.ok()) return Prefix(action, decoded.status());
  const Descriptor* config_desc = &decoded->config;
  const std::vector<Descriptor>& layers = decoded->layers;
  if (absl::Status s = store_->WriteBlob(action, manifest.digest, manifest.body); !s.ok()) {
    return s;
  }

  // The config: verified, then the diff_ids it lists for the layers.
  if (absl::Status s = client_->FetchBlob(ref, *config_desc, store_, action); !s.ok()) return s;
  absl::StatusOr<std::string> config_data = store_->ReadBlob(config_desc->digest);
  if (!config_data.ok()) return Prefix(action, config_data.status());
  record.config_digest = config_desc->digest;
  absl::StatusOr<ImageConfig> config =
      DecodeConfig(*config_data, config_desc->digest, layers.size());
  if (!config.ok()) return Prefix(action, config.status());
  record.config = std::move(config->config);
  if (!config->architecture.empty() && config->architecture != options.platform.architecture) {
    spdlog::warn("{}: the image is for {}, this node is {}", action, config->architecture,
                 options.platform.architecture);
  }

  int64_t total = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Descriptor& l = layers[i];
    const std::string& diff_id = config->diff_ids[i];
    const bool had = store_->Has(l.digest);
    const absl::Time layer_begin = absl::Now();
    PullProgress p{record.reference,
                   l.digest,
                   static_cast<int>(i),
                   static_cast<int>(layers.size()),
                   0,
                   l.size};
    int64_t next_log = 64 << 20;
    absl::Status s = client_->FetchBlob(ref, l, store_, action, [&](int64_t bytes) {
      p.layer_bytes = bytes;
      if (options.progress) options.progress(p);
      if (bytes >= next_log) {
        spdlog::info("{}: layer {}/{} {}: {} of {} bytes", action, i + 1, layers.size(), l.digest,
                     bytes, l.size);
        next_log += 64 << 20;
      }
    });
    if (!s.ok()) return s;
    const double secs = absl::ToDoubleSeconds(absl::Now() - layer_begin);
    spdlog::info("{}: layer {}/{} {} ({} bytes) {}", action, i + 1, layers.size(), l.digest, l.size,
                 had ? std::string("already present")
                     : absl::StrCat("in ", static_cast<int>(secs * 1000), " ms"));
    total += l.size;
    record.layers.push_back({l.digest, l.media_type, l.size, diff_id});
  }
  record.created_unix = absl::ToUnixSeconds(absl::Now());
  if (absl::Status s = store_->PutImage(record); !s.ok()) return Prefix(action, s);
  spdlog::info("{}: done, manifest {}, {} layers, {} bytes in {} ms", action,
               record.manifest_digest, record.layers.size(), total,
               absl::ToInt64Milliseconds(absl::Now() - begin));
  return record;
}

absl::StatusOr<ImageRecord> Puller::Get(const std::string& reference) const {
  absl::StatusOr<Reference> ref = ParseReference(reference);
  if (!ref.ok()) return ref.status();
  return store_->GetImage(ref->String());
}

absl::Status Puller::Remove(const std::string& reference) {
  absl::StatusOr<Reference> ref = ParseReference(reference);
  if (!ref.ok()) return Prefix(absl::StrCat("remove image ", reference), ref.status());
  absl::StatusOr<ImageRecord> r = store_->GetImage(ref->String());
  if (!r.ok()) return r.status();
  return store_->DeleteImage(ref->String());
}

absl::StatusOr<PruneResult> Puller::Prune(const std::set<std::string>& keep) {
  std::set<std::string> keep_normalised;
  for (const std::string& k : keep) {
    absl::StatusOr<Reference> ref = ParseReference(k);
    if (!ref.ok()) return Prefix("prune images", ref.status());
    keep_normalised.insert(ref->String());
  }
  absl::MutexLock gc(&gc_mu_);
  PruneResult result;
  absl::StatusOr<std::vector<ImageRecord>> images = store_->ListImages();
  if (!images.ok()) return images.status();
  std::set<std::string> referenced;
  for (const ImageRecord& r : *images) {
    if (keep_normalised.count(r.reference) == 0) {
      if (absl::Status s = store_->DeleteImage(r.reference); !s.ok()) return s;
      result.removed_images.push_back(r.reference);
      continue;
    }
    std::set<std::string> d = ReferencedDigests(r);
    referenced.insert(d.begin(), d.end());
  }
  absl::StatusOr<std::vector<std::string>> blobs = store_->List();
  if (!blobs.ok()) return blobs.status();
  for (const std::string& digest : *blobs) {
    if (referenced.count(digest)) continue;
    absl::StatusOr<int64_t> size = store_->Size(digest);
    if (absl::Status s = store_->Delete(digest); !s.ok()) return s;
    ++result.removed_blobs;
    if (size.ok()) result.freed_bytes += *size;
  }
  store_->DiscardPartials();
  spdlog::info("prune images: removed {} records and {} blobs ({} bytes)",
               result.removed_images.size(), result.removed_blobs, result.freed_bytes);
  return result;
}

}  // namespace berth::image
