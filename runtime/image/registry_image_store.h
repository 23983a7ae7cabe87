// Images from OCI registries as root file systems: pulls into a verified
// content store (runtime/image), layers unpacked once per chain into
// snapshots (runtime/snapshot) that containers stack as overlay lower
// directories, plus directory images.
//
// Layout under the root (berthd: <state-dir>/images):
//   <root>/<name>/<tag>/rootfs    directory images (LocalImageStore), used
//                                 as they are whatever the pull policy
//   <root>/content/               blobs and image records (ContentStore)
//   <root>/snapshots/             unpacked layers (Snapshotter)
//
// Garbage collection (kubelet's image GC): when the file system holding the
// root is at least `gc_high_percent` full, pulled images no container uses
// and no source wants are removed, least recently used first, until it is
// below `gc_low_percent` (record, blobs no other image shares, snapshots of
// chains no remaining image has). Directory images are never removed.
#ifndef BERTH_RUNTIME_IMAGE_REGISTRY_IMAGE_STORE_H_
#define BERTH_RUNTIME_IMAGE_REGISTRY_IMAGE_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtime/image/content_store.h"
#include "runtime/image/image_store.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"
#include "runtime/snapshot/snapshotter.h"

namespace berth::image {

struct RegistryImageStoreOptions {
  std::string root;
  // Registries, TLS and the node's own credentials (a docker config.json).
  image::RegistryClientOptions registry;
  int gc_high_percent = 85;
  int gc_low_percent = 80;
  // How full the file system holding `root` is, in percent; statvfs when
  // not set.
  std::function<int(const std::string& root)> disk_used_percent;
};

struct ImageGcReport {
  int disk_used_percent = 0;
  bool collected = false;  // the threshold was reached (or forced)
  std::vector<std::string> removed_images;
  int removed_blobs = 0;
  int removed_snapshots = 0;
};

class RegistryImageStore : public ImageStore {
 public:
  static absl::StatusOr<std::unique_ptr<RegistryImageStore>> Open(
      RegistryImageStoreOptions options);

  // ImageStore. A pull with `auth` uses those credentials before the
  // node's own.
  absl::StatusOr<ResolvedImage> Resolve(const std::string& reference, ImagePullPolicy policy,
                                        const PullAuth& auth) const override;
  bool Present(const std::string& reference) const override;
  // False for a directory image, whatever the policy.
  bool WouldPull(const std::string& reference, ImagePullPolicy policy) const override;

  // Imports an OCI layout directory or an OCI/Docker archive (air-gapped
  // nodes); `reference` names it when the source does not.
  absl::StatusOr<std::vector<std::string>> Import(const std::string& path,
                                                  const std::string& reference);

  // Over the high mark: removes pulled images not in `in_use()`
  // (references in any form), least recently used first, until the disk is
  // below the low mark. `force`: removes all of them, whatever the disk.
  // `in_use` is asked while no Resolve runs.
  absl::StatusOr<ImageGcReport> CollectGarbage(const std::function<std::set<std::string>()>& in_use,
                                               bool force);

  // Normalized references of the pulled and imported images.
  std::vector<std::string> List() const;

  // Ends the pulls in progress and refuses new ones (kCancelled), for a
  // quick shutdown; partial blobs are kept for the next start to resume.
  void CancelPulls();

 private:
  explicit RegistryImageStore(RegistryImageStoreOptions options);
  absl::StatusOr<ResolvedImage> FromRecord(const image::ImageRecord& record, bool pulled) const;
  int DiskUsed() const;
  // Resolved (or in use) now: what garbage collection removes last.
  void NoteUsed(const std::string& reference) const;
  // Removes the snapshots no image record needs; how many.
  absl::StatusOr<int> PruneSnapshots();

  RegistryImageStoreOptions options_;
  LocalImageStore dirs_;
  std::unique_ptr<image::ContentStore> content_;
  std::unique_ptr<image::RegistryClient> client_;
  std::unique_ptr<image::Puller> puller_;
  std::unique_ptr<snapshot::Snapshotter> snapshots_;
  // Resolves hold it shared; garbage collection exclusively.
  mutable absl::Mutex gc_mu_;
  mutable absl::Mutex used_mu_;
  // Normalised reference -> when last resolved or found in use.
  mutable std::map<std::string, absl::Time> last_used_ ABSL_GUARDED_BY(used_mu_);
};

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_REGISTRY_IMAGE_STORE_H_
