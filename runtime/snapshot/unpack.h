// Unpacking one image layer (a tar, plain or compressed) into a directory
// that overlay can use as a lower directory.
//
// One pass over the blob: an outer libarchive reader (format "raw", every
// decompression filter, so the compression is detected from the bytes)
// feeds a second reader (tar) through callbacks that hash what passes; the
// sha256 of the whole uncompressed stream must equal the layer's diff_id.
//
// What lands on disk:
// - files, directories, symlinks, hard links and fifos with their owners,
//   modes, mtimes and xattrs (the caller is root); xattrs named
//   trusted.overlay.* in the tar are dropped (they would steer overlay);
// - OCI whiteouts: `.wh.<name>` becomes a character device 0/0 named
//   <name>, and `.wh..wh..opq` sets trusted.overlay.opaque=y on its
//   directory, as containerd's overlay snapshotter does;
// - character and block devices of the tar are skipped (and counted): an
//   image's device node would be a way into host devices, a 0/0 one would
//   pose as a whiteout, and runc gives every container its own /dev.
// - Absolute symlinks are kept as they are (they resolve inside the
//   container) and are never followed while unpacking.
//
// Containment: an absolute entry path is taken relative to the layer's
// root (as containerd does); an entry whose path has a ".." component,
// that would be written through a symlink, or a hard link whose target is
// outside the layer or reached through a symlink fails the whole layer
// with kInvalidArgument. Extraction runs in a thread of its own with a
// private working directory (unshare(CLONE_FS)) inside the target, which is
// what libarchive's ARCHIVE_EXTRACT_SECURE_* checks are relative to.
//
// Any failure removes the target directory: nothing half-unpacked is left.
#ifndef BERTH_RUNTIME_SNAPSHOT_UNPACK_H_
#define BERTH_RUNTIME_SNAPSHOT_UNPACK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace berth::snapshot {

inline constexpr char kMediaTypeOciLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kMediaTypeOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kMediaTypeOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kMediaTypeDockerLayer[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";

// Bounds against tar bombs.
struct UnpackOptions {
  int64_t max_bytes = int64_t{64} << 30;  // uncompressed tar stream
  int64_t max_entries = 4'000'000;
};

struct UnpackStats {
  int64_t tar_bytes = 0;  // uncompressed stream, what diff_id covers
  int64_t entries = 0;    // tar entries, whiteouts included
  int64_t whiteouts = 0;  // `.wh.<name>` and opaque markers
  int64_t devices_skipped = 0;
};

// Whether `media_type` names a layer UnpackLayer reads (the OCI tar layer
// types, plain, gzip or zstd, their nondistributable variants, Docker's
// gzip layer types, and "" for "detect from the bytes").
bool IsLayerMediaType(const std::string& media_type);

// Unpacks the blob at `blob_path` into `target_dir`, which must not exist
// (it is created with its parents). Errors:
//   kInvalidArgument  unknown media type, malformed diff_id, an entry that
//                     escapes the target, a tar that does not parse
//   kDataLoss         the uncompressed stream's sha256 is not `diff_id`,
//                     or the blob ends early (truncated)
//   kResourceExhausted  more than options' bytes or entries
//   kAlreadyExists    target_dir exists
//   kNotFound         no blob
//   other             the file system's errors
absl::StatusOr<UnpackStats> UnpackLayer(const std::string& blob_path, const std::string& media_type,
                                        const std::string& diff_id, const std::string& target_dir,
                                        const UnpackOptions& options = {});

}  // namespace berth::snapshot

#endif  // BERTH_RUNTIME_SNAPSHOT_UNPACK_H_
