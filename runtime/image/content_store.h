// A content-addressed blob store with image records:
//   <root>/blobs/sha256/<hex>       committed blobs (verified digest and size)
//   <root>/ingest/<hex>.partial     downloads in progress or left by a crash
//   <root>/images/<sha256 of reference>.json   image records
// A blob is committed only after its digest and size are verified, fsynced
// and renamed into place; a partial is resumed (the caller's source starts
// at its size) or discarded, never read as content.
#ifndef BERTH_RUNTIME_IMAGE_CONTENT_STORE_H_
#define BERTH_RUNTIME_IMAGE_CONTENT_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/image/image_record.h"

namespace berth::image {

// Where a blob source writes. Everything written is hashed on the way.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // Appends; kDataLoss once more than the expected size arrived.
  virtual absl::Status Write(const void* data, size_t n) = 0;
  // Drops everything written so far, including a resumed prefix (the source
  // could not start at the offset it was given).
  virtual absl::Status Restart() = 0;
  // Bytes of the blob held so far (the resumed prefix included).
  virtual int64_t written() const = 0;
};

// Fills `writer` with the blob from byte `offset` on (0, or the size of a
// partial being resumed). A source that cannot seek calls writer->Restart()
// first. kUnavailable/kDeadlineExceeded keep the partial for a later resume;
// any other error discards it.
using BlobSource = std::function<absl::Status(int64_t offset, BlobWriter* writer)>;

struct ContentStoreOptions {
  // How long an ingest waits for another one of the same digest (in this
  // or another process) before giving up with kUnavailable.
  absl::Duration ingest_wait = absl::Minutes(30);
};

class ContentStore {
 public:
  // Creates the directories under `root` when missing and removes
  // unlocked temporary files of unknown-digest ingests left by a crash.
  static absl::StatusOr<std::unique_ptr<ContentStore>> Open(std::string root,
                                                            ContentStoreOptions options = {});

  const std::string& root() const { return root_; }

  // <root>/blobs/sha256/<hex> (whether or not it exists); `digest` must be
  // valid (see IsValidDigest), else the path is empty.
  std::string BlobPath(const std::string& digest) const;
  bool Has(const std::string& digest) const;
  // kNotFound when absent.
  absl::StatusOr<int64_t> Size(const std::string& digest) const;
  // The whole blob; kFailedPrecondition when larger than `max_bytes`.
  absl::StatusOr<std::string> ReadBlob(const std::string& digest,
                                       int64_t max_bytes = 16 << 20) const;
  // Removes a committed blob; absent is fine.
  absl::Status Delete(const std::string& digest);
  // Digests of all committed blobs, sorted.
  absl::StatusOr<std::vector<std::string>> List() const;
  // Bytes allocated on disk by blobs, partials and records.
  absl::StatusOr<int64_t> DiskUsage() const;

  // Makes blob `digest` of `size` bytes present, fetching it from `source`
  // unless already committed. `action` prefixes errors ("pull image X").
  // A digest or size mismatch is kDataLoss (`<action>: blob sha256:...
  // digest mismatch: got sha256:...`) and commits nothing. Concurrent
  // ingests of one digest fetch once: the others wait and share the result
  // (in this process) or find the committed blob (other processes, by a
  // lock on the partial). A resumed partial whose result does not verify is
  // discarded and fetched once more from the start. When `source` fails with
  // kUnavailable, kDeadlineExceeded or kCancelled, what it wrote stays as a
  // partial for the next ingest to resume.
  absl::Status Ingest(const std::string& action, const std::string& digest, int64_t size,
                      const BlobSource& source);
  // Ingest of bytes already in memory.
  absl::Status WriteBlob(const std::string& action, const std::string& digest,
                         absl::string_view data);
  // Ingests a blob whose digest is not known up front (e.g. a tar member):
  // writes a temporary file, hashes it and commits it under the computed
  // digest (unless that blob is present already).
  struct Ingested {
    std::string digest;
    int64_t size = 0;
    bool created = false;  // false when the blob was present already
  };
  absl::StatusOr<Ingested> IngestByContent(const std::string& action,
                                           const std::function<absl::Status(BlobWriter*)>& source);

  // Partials in <root>/ingest not locked by an ingest right now: digest ->
  // bytes held.
  std::map<std::string, int64_t> Partials() const;
  // Removes the partials no ingest holds; returns how many.
  int DiscardPartials();

  // Image records, written atomically (temporary file, fsync, rename).
  absl::Status PutImage(const ImageRecord& record);
  // kNotFound when no record names `reference` (a normalised String()).
  absl::StatusOr<ImageRecord> GetImage(const std::string& reference) const;
  absl::Status DeleteImage(const std::string& reference);
  // Every record, sorted by reference. Unreadable records are skipped and
  // logged.
  absl::StatusOr<std::vector<ImageRecord>> ListImages() const;

 private:
  struct Inflight;
  ContentStore(std::string root, ContentStoreOptions options);
  std::string PartialPath(const std::string& digest) const;
  std::string ImagePath(const std::string& reference) const;
  absl::Status IngestLocked(const std::string& action, const std::string& digest, int64_t size,
                            const BlobSource& source);

  const std::string root_;
  const ContentStoreOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Inflight>> inflight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_CONTENT_STORE_H_
