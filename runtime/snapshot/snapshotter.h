// Committed image layers on disk, one directory per chain id, ready to be
// stacked as overlay lower directories.
//
// Layout under the root:
//   <root>/snapshots/<n>/fs        the unpacked layer (what Prepare returns)
//   <root>/snapshots/<n>/chain_id  "sha256:..." of the snapshot
//   <root>/snapshots/<n>/info.json diff_id, digest, unpack statistics
//   <root>/tmp-XXXXXX/            an unpack in progress
// <n> is a small decimal id, so a lower directory costs
// strlen(root) + ~18 bytes of overlay's one-page option string; with
// root /var/lib/berth/snapshots that is ~45 bytes a layer, about 85 layers
// (the runtime builds a copy instead when the options would not fit).
//
// A snapshot is unpacked into a tmp- directory and renamed into
// snapshots/ only when complete (and fsync'ed), so a crash never leaves a
// half-unpacked committed snapshot; Open removes tmp- leftovers and
// snapshot directories without a readable chain_id.
//
// Chain ids are those of the OCI image spec: ChainID(L0) = DiffID(L0),
// ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)). Two images
// sharing base layers share their snapshots.
//
// Thread-safe. Concurrent Prepares of the same chain unpack it once (the
// later ones wait for the first). Prune does not know which snapshots
// containers use: the caller keeps the chain ids of every image in use or
// being prepared (a Prune racing a Prepare of the same image may remove a
// lower layer the Prepare already passed).
#ifndef BERTH_RUNTIME_SNAPSHOT_SNAPSHOTTER_H_
#define BERTH_RUNTIME_SNAPSHOT_SNAPSHOTTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runtime/snapshot/unpack.h"

namespace berth::snapshot {

// One layer of an image, as the content store hands it over: `path` is a
// verified blob file (compressed or plain tar).
struct LayerBlob {
  std::string digest;      // of the blob, "sha256:..."
  std::string media_type;  // see IsLayerMediaType
  std::string diff_id;     // of the uncompressed tar, "sha256:..."
  std::string path;
};

struct SnapshotInfo {
  std::string chain_id;
  std::string path;  // the lower directory (…/fs)
  int64_t id = 0;    // <n>
};

// Chain ids of `diff_ids_base_first`, base first (the spec's algorithm).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids_base_first);

class Snapshotter {
 public:
  // Creates `root` if needed and removes what a crash left. The root must be
  // absolute and hold no ',' or ':' (overlay option separators).
  static absl::StatusOr<std::unique_ptr<Snapshotter>> Open(std::string root,
                                                           UnpackOptions options = {});

  // Unpacks each layer whose chain is not committed yet, base first, and
  // returns the lower directories top-most first (overlay's order).
  // Errors are UnpackLayer's, prefixed with the layer; kInvalidArgument for
  // no layers or a malformed diff_id.
  absl::StatusOr<std::vector<std::string>> Prepare(const std::vector<LayerBlob>& layers_base_first);

  // Removes every committed snapshot whose chain id is not in
  // `keep_chain_ids` (each removal logged). A failure stops at that
  // snapshot: still listed if it could not be moved out of snapshots/,
  // else gone from List() with what is left of it removed by Open.
  absl::Status Prune(const std::set<std::string>& keep_chain_ids);

  // Disk bytes (allocated blocks, hard links counted once) per chain id.
  absl::StatusOr<std::map<std::string, int64_t>> Usage() const;

  // The committed snapshots, by id.
  std::vector<SnapshotInfo> List() const;

  const std::string& root() const { return root_; }

 private:
  Snapshotter(std::string root, UnpackOptions options);
  absl::Status Load();
  // Unpacks and commits one chain; called with the chain's lock held.
  absl::StatusOr<SnapshotInfo> Commit(const LayerBlob& layer, const std::string& chain_id);
  absl::Mutex* ChainLock(const std::string& chain_id);

  const std::string root_;
  const UnpackOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, SnapshotInfo> by_chain_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::unique_ptr<absl::Mutex>> chain_locks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::snapshot

#endif  // BERTH_RUNTIME_SNAPSHOT_SNAPSHOTTER_H_
