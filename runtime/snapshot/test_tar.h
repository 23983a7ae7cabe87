// Test support: image layers built with libarchive's writer (plain, gzip
// or zstd tar blobs) and their digests.
#ifndef BERTH_RUNTIME_SNAPSHOT_TEST_TAR_H_
#define BERTH_RUNTIME_SNAPSHOT_TEST_TAR_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/snapshot/snapshotter.h"

namespace berth::snapshot::testing {

struct TarEntry {
  enum class Kind { kFile, kDir, kSymlink, kHardlink, kCharDevice, kFifo };
  Kind kind = Kind::kFile;
  std::string path;
  std::string content;  // file data, or the symlink / hard link target
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime = 1'600'000'000;
  std::map<std::string, std::string> xattrs;
  unsigned dev_major = 0, dev_minor = 0;
};

TarEntry File(std::string path, std::string content, mode_t mode = 0644);
TarEntry Dir(std::string path, mode_t mode = 0755);
TarEntry Symlink(std::string path, std::string target);
TarEntry Hardlink(std::string path, std::string target);

enum class Compression { kNone, kGzip, kZstd };

// The uncompressed tar stream of `entries` (pax format).
std::string TarBytes(const std::vector<TarEntry>& entries);
// `tar` compressed (or not).
std::string Compress(const std::string& tar, Compression compression);
std::string Sha256(const std::string& data);  // "sha256:<hex>"

// Writes the blob of `entries` to `<dir>/<digest hex>` and describes it.
LayerBlob WriteLayer(const std::string& dir, const std::vector<TarEntry>& entries,
                     Compression compression = Compression::kGzip);

}  // namespace berth::snapshot::testing

#endif  // BERTH_RUNTIME_SNAPSHOT_TEST_TAR_H_
