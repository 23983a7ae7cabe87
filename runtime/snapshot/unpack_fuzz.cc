// Fuzzes the layer unpacker (UnpackLayer) on a scratch directory:
//   <scratch>/blob          the input, as the layer blob
//   <scratch>/sentinel/keep a file the layer must not reach
//   <scratch>/target        where the layer is unpacked, removed after
// with the sha256 of the input as diff_id (so a plain tar unpacks whole and
// a compressed one is read to its end, then refused). After each input:
// nothing but these exist in <scratch> (a walk of it, target excluded),
// the sentinel and its file are unchanged (content, mode, owner, times,
// link count: no hard link from the layer), a failed unpack left no
// target, and no entry in a successful one is a device other than a 0/0
// whiteout. The scratch directory is a new one under $BERTH_FUZZ_SCRATCH,
// else $TMPDIR, else /tmp (one per process: -jobs runs several); run as
// root, as berthd unpacks.
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "openssl/sha.h"
#include "runtime/snapshot/unpack.h"
#include "tests/fuzz_scratch.h"

namespace {

std::string scratch, blob, sentinel, keep, target;
struct stat sentinel_stat, keep_stat;
std::set<std::string>* seen = nullptr;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "unpack_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

bool SameStat(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_mode == b.st_mode && a.st_uid == b.st_uid &&
         a.st_gid == b.st_gid && a.st_nlink == b.st_nlink && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

int Record(const char* path, const struct stat*, int, struct FTW*) {
  seen->insert(path);
  return 0;
}

std::string Sha256Digest(const uint8_t* data, size_t size) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(data, size, md);
  return "sha256:" +
         absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

bool NoDevicesButWhiteouts(const std::string& root) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISBLK(st.st_mode)) return false;
    if (S_ISCHR(st.st_mode) && st.st_rdev != makedev(0, 0)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  scratch = ::berth::testing::FuzzScratchDir("unpack-fuzz");
  blob = scratch + "/blob";
  sentinel = scratch + "/sentinel";
  keep = sentinel + "/keep";
  target = scratch + "/target";
  Check(mkdir(sentinel.c_str(), 0755) == 0, "mkdir sentinel");
  std::ofstream(keep) << "outside the layer\n";
  Check(stat(sentinel.c_str(), &sentinel_stat) == 0 && stat(keep.c_str(), &keep_stat) == 0,
        "stat sentinel");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(blob, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    Check(out.good(), "write blob");
  }
  berth::snapshot::UnpackOptions options;
  options.max_bytes = 64 << 20;
  options.max_entries = 10000;
  absl::StatusOr<berth::snapshot::UnpackStats> stats =
      berth::snapshot::UnpackLayer(blob, "", Sha256Digest(data, size), target, options);

  std::set<std::string> found;
  seen = &found;
  nftw(scratch.c_str(), Record, 16, FTW_PHYS);
  seen = nullptr;
  for (const std::string& path : found) {
    const bool expected = path == scratch || path == blob || path == sentinel || path == keep ||
                          path == target || path.rfind(target + "/", 0) == 0;
    if (!expected) std::fprintf(stderr, "unpack_fuzz: outside the target: %s\n", path.c_str());
    Check(expected, "nothing lands outside the target");
  }
  struct stat st;
  Check(stat(sentinel.c_str(), &st) == 0 && SameStat(st, sentinel_stat), "sentinel unchanged");
  Check(stat(keep.c_str(), &st) == 0 && SameStat(st, keep_stat), "sentinel file unchanged");
  if (stats.ok()) {
    Check(NoDevicesButWhiteouts(target), "no device nodes but whiteouts");
  } else {
    Check(found.count(target) == 0, "a failed unpack leaves no target");
  }
  std::error_code ec;
  std::filesystem::remove_all(target, ec);
  Check(!ec && !std::filesystem::exists(std::filesystem::symlink_status(target)), "target removed");
  return 0;
}
