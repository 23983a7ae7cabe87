#include "runtime/snapshot/test_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "runtime/snapshot/unpack.h"
#include "runtime/sys/process.h"

namespace berth::snapshot::testing {
namespace {

la_ssize_t Append(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

void Check(int r, archive* a) {
  if (r < ARCHIVE_WARN) {
    fprintf(stderr, "test tar: %s\n", archive_error_string(a));
    abort();
  }
}

}  // namespace

TarEntry File(std::string path, std::string content, mode_t mode) {
  TarEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}
TarEntry Dir(std::string path, mode_t mode) {
  TarEntry e;
  e.kind = TarEntry::Kind::kDir;
  e.path = std::move(path);
  e.mode = mode;
  return e;
}
TarEntry Symlink(std::string path, std::string target) {
  TarEntry e;
  e.kind = TarEntry::Kind::kSymlink;
  e.path = std::move(path);
  e.content = std::move(target);
  e.mode = 0777;
  return e;
}
TarEntry Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.kind = TarEntry::Kind::kHardlink;
  e.path = std::move(path);
  e.content = std::move(target);
  return e;
}

std::string TarBytes(const std::vector<TarEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  Check(archive_write_open(a, &out, nullptr, Append, nullptr), a);
  for (const TarEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    archive_entry_set_perm(e, t.mode);
    for (const auto& [k, v] : t.xattrs)
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    bool data = false;
    switch (t.kind) {
      case TarEntry::Kind::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(t.content.size()));
        data = true;
        break;
      case TarEntry::Kind::kDir: archive_entry_set_filetype(e, AE_IFDIR); break;
      case TarEntry::Kind::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.content.c_str());
        break;
      case TarEntry::Kind::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.content.c_str());
        archive_entry_set_size(e, 0);
        break;
      case TarEntry::Kind::kCharDevice:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdevmajor(e, t.dev_major);
        archive_entry_set_rdevminor(e, t.dev_minor);
        break;
      case TarEntry::Kind::kFifo: archive_entry_set_filetype(e, AE_IFIFO); break;
    }
    Check(archive_write_header(a, e), a);
    if (data && !t.content.empty()) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  Check(archive_write_close(a), a);
  archive_write_free(a);
  return out;
}

std::string Compress(const std::string& tar, Compression compression) {
  if (compression == Compression::kNone) return tar;
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (compression == Compression::kGzip) {
    archive_write_add_filter_gzip(a);
  } else {
    archive_write_add_filter_zstd(a);
  }
  archive_write_set_bytes_in_last_block(a, 1);
  Check(archive_write_open(a, &out, nullptr, Append, nullptr), a);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_pathname(e, "layer.tar");
  archive_entry_set_size(e, static_cast<la_int64_t>(tar.size()));
  Check(archive_write_header(a, e), a);
  archive_write_data(a, tar.data(), tar.size());
  archive_entry_free(e);
  Check(archive_write_close(a), a);
  archive_write_free(a);
  return out;
}

std::string Sha256(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  std::string out = "sha256:";
  for (unsigned char c : md) absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

LayerBlob WriteLayer(const std::string& dir, const std::vector<TarEntry>& entries,
                     Compression compression) {
  const std::string tar = TarBytes(entries);
  const std::string blob = Compress(tar, compression);
  LayerBlob l;
  l.digest = Sha256(blob);
  l.diff_id = Sha256(tar);
  l.media_type = compression == Compression::kNone   ? kMediaTypeOciLayer
                 : compression == Compression::kGzip ? kMediaTypeOciLayerGzip
                                                     : kMediaTypeOciLayerZstd;
  l.path = absl::StrCat(dir, "/", l.digest.substr(7));
  mkdir(dir.c_str(), 0755);
  if (!runtime::WriteFileAtomic(l.path, blob, runtime::Durability::kAtomic).ok()) abort();
  return l;
}

}  // namespace berth::snapshot::testing
