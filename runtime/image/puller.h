// Pulls images from registries into a ContentStore and keeps the records:
// tag -> manifest (an index picks the node's platform), every manifest,
// config and layer verified by digest, then an ImageRecord.
#ifndef BERTH_RUNTIME_IMAGE_PULLER_H_
#define BERTH_RUNTIME_IMAGE_PULLER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtime/image/content_store.h"
#include "runtime/image/image_record.h"
#include "runtime/image/registry_client.h"

namespace berth::image {

// This node's platform: linux, the OCI name of uname's machine (x86_64 ->
// amd64, aarch64 -> arm64, armv7l -> arm with variant v7, ...).
Platform NodePlatform();

// Picks the manifest for `want` from an index's entries: os and
// architecture equal; a wanted variant must match, but an entry without a
// variant is accepted when no exact one exists (arm64 entries rarely say
// v8). kNotFound listing what the index has otherwise.
absl::StatusOr<Descriptor> SelectPlatform(const std::vector<Descriptor>& manifests,
                                          const Platform& want);

struct PullProgress {
  std::string reference;
  std::string layer_digest;
  int layer_index = 0;  // 0-based, base first
  int layer_count = 0;
  int64_t layer_bytes = 0;  // arrived so far
  int64_t layer_size = 0;
};

struct PullOptions {
  Platform platform = NodePlatform();
  // Called as blob bytes arrive (from the pulling thread).
  std::function<void(const PullProgress&)> progress;
};

struct PruneResult {
  std::vector<std::string> removed_images;
  int removed_blobs = 0;
  int64_t freed_bytes = 0;
};

class Puller {
 public:
  // Neither is owned; both must outlive the puller.
  Puller(ContentStore* store, RegistryClient* client);

  // Pulls `reference` (any form ParseReference accepts) and records it
  // under its normalised String(). Blobs already in the store are not
  // fetched again. Concurrent pulls of one reference share one pull.
  // Errors keep the client's codes, prefixed `pull image <ref>: `;
  // a layer count that disagrees with the config's rootfs.diff_ids is
  // kDataLoss; unsupported media types are kInvalidArgument.
  absl::StatusOr<ImageRecord> Pull(const std::string& reference, const PullOptions& options = {});

  // The local record of `reference` (normalised first); kNotFound if none.
  absl::StatusOr<ImageRecord> Get(const std::string& reference) const;
  // Removes the record (not the blobs: see Prune); kNotFound if none.
  absl::Status Remove(const std::string& reference);
  // Removes every record whose reference is not in `keep` (references in
  // any accepted form), then every blob no remaining record references
  // (index, manifest, config, layers) and abandoned partials. Pulls in this
  // process wait for it and it waits for them.
  absl::StatusOr<PruneResult> Prune(const std::set<std::string>& keep);

 private:
  struct Flight;
  absl::StatusOr<ImageRecord> DoPull(const Reference& ref, const PullOptions& options);

  ContentStore* const store_;
  RegistryClient* const client_;
  // Pulls hold it shared, Prune exclusively: a pull's blobs are not
  // referenced by a record until it ends.
  absl::Mutex gc_mu_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
};

// Digests an image record references: index (if any), manifest, config
// and layers.
std::set<std::string> ReferencedDigests(const ImageRecord& record);

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_PULLER_H_
