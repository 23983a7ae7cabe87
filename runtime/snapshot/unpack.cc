#include "runtime/snapshot/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::snapshot {
namespace {

constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kOpaqueMarker[] = ".wh..wh..opq";
constexpr size_t kReadBlock = 1 << 17;

struct ArchiveDeleter {
  void operator()(archive* a) const {
    if (a != nullptr) archive_read_free(a);
  }
};
struct WriterDeleter {
  void operator()(archive* a) const {
    if (a != nullptr) archive_write_free(a);
  }
};
struct DigestDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string ArchiveError(archive* a) {
  const char* e = archive_error_string(a);
  return e != nullptr ? e : "unknown libarchive error";
}

bool ValidDiffId(const std::string& d) {
  if (!absl::StartsWith(d, "sha256:") || d.size() != 7 + 64) return false;
  for (char c : d.substr(7)) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

// The path of a tar entry relative to the layer root without "./" or "/"
// prefixes and trailing '/'; "" for the root itself. A leading '/' means
// the layer's root, as with containerd (umoci writes its root as "/").
// Empty optional when it has a ".." component.
std::optional<std::string> CleanPath(absl::string_view path) {
  std::vector<absl::string_view> out;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") return std::nullopt;
    out.push_back(part);
  }
  return absl::StrJoin(out, "/");
}

// Checks that no proper prefix of `rel` (relative to the working
// directory) is a symlink or a non-directory; missing prefixes are created
// as directories when `create` is set.
absl::Status CheckParents(const std::string& rel, bool create) {
  size_t pos = 0;
  while ((pos = rel.find('/', pos)) != std::string::npos) {
    const std::string prefix = rel.substr(0, pos++);
    struct stat st;
    if (lstat(prefix.c_str(), &st) != 0) {
      if (errno == ENOENT && create && mkdir(prefix.c_str(), 0755) == 0) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("parent ", prefix, " of ", rel));
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(rel, " would be reached through symlink ", prefix));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(rel, ": ", prefix, " is not a directory"));
    }
  }
  return absl::OkStatus();
}

struct Deferred {
  bool opaque;       // else a whiteout
  std::string path;  // the directory made opaque, or the name whited out
};

class Unpacker {
 public:
  Unpacker(const std::string& blob, const std::string& media_type, const UnpackOptions& options)
      : blob_(blob), media_type_(media_type), options_(options) {}

  // Runs with the working directory in the (empty) target.
  absl::Status Run() {
    digest_.reset(EVP_MD_CTX_new());
    if (!digest_ || EVP_DigestInit_ex(digest_.get(), EVP_sha256(), nullptr) != 1) {
      return absl::InternalError("sha256 init failed");
    }
    if (absl::Status s = OpenOuter(); !s.ok()) return s;
    inner_.reset(archive_read_new());
    archive_read_support_format_tar(inner_.get());
    if (archive_read_open(inner_.get(), this, nullptr, &Unpacker::ReadCallback, nullptr) !=
        ARCHIVE_OK) {
      return StreamError(absl::StrCat("open tar: ", ArchiveError(inner_.get())));
    }
    // No user lookup is set: owners are the tar's numeric ids, the host's
    // user database means nothing here.
    disk_.reset(archive_write_disk_new());
    archive_write_disk_set_options(
        disk_.get(), ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                         ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
                         ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                         ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    while (true) {
      archive_entry* entry = nullptr;
      int r = archive_read_next_header(inner_.get(), &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN)
        return StreamError(absl::StrCat("read tar: ", ArchiveError(inner_.get())));
      if (++stats_.entries > options_.max_entries) {
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", options_.max_entries, " entries"));
      }
      if (absl::Status s = Entry(entry); !s.ok()) return s;
    }
    // The reader stops at the end-of-archive blocks; the rest (padding) is
    // part of the stream diff_id covers.
    char buf[kReadBlock];
    la_ssize_t n;
    while ((n = ReadOuter(buf, sizeof buf)) > 0) {
    }
    if (n < 0) return outer_error_;
    for (const Deferred& d : deferred_) {
      if (absl::Status s = Apply(d); !s.ok()) return s;
    }
    if (archive_write_close(disk_.get()) != ARCHIVE_OK) {
      return absl::InternalError(absl::StrCat("finish: ", ArchiveError(disk_.get())));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(digest_.get(), md, &len);
    digest_hex_ = "sha256:";
    for (unsigned int i = 0; i < len; ++i)
      absl::StrAppend(&digest_hex_, absl::Hex(md[i], absl::kZeroPad2));
    return absl::OkStatus();
  }

  const std::string& digest() const { return digest_hex_; }
  const UnpackStats& stats() const { return stats_; }

 private:
  absl::Status OpenOuter() {
    outer_.reset(archive_read_new());
    archive_read_support_filter_all(outer_.get());
    archive_read_support_format_raw(outer_.get());
    if (archive_read_open_filename(outer_.get(), blob_.c_str(), kReadBlock) != ARCHIVE_OK) {
      int err = archive_errno(outer_.get());
      std::string msg = absl::StrCat("open blob ", blob_, ": ", ArchiveError(outer_.get()));
      if (err == ENOENT) return absl::NotFoundError(msg);
      // Opening decompresses the first block: a short blob fails here.
      if (absl::StrContains(msg, "runcated")) return absl::DataLossError(msg);
      return absl::InvalidArgumentError(msg);
    }
    archive_entry* raw = nullptr;
    if (archive_read_next_header(outer_.get(), &raw) != ARCHIVE_OK) {
      return absl::DataLossError(
          absl::StrCat("read blob ", blob_, ": ", ArchiveError(outer_.get())));
    }
    const int filter = archive_filter_code(outer_.get(), 0);
    const bool says_gzip = absl::EndsWith(media_type_, "gzip");
    const bool says_zstd = absl::EndsWith(media_type_, "zstd");
    if ((says_gzip && filter != ARCHIVE_FILTER_GZIP) ||
        (says_zstd && filter != ARCHIVE_FILTER_ZSTD)) {
      spdlog::debug("blob {} is {} though its media type is {}", blob_,
                    archive_filter_name(outer_.get(), 0), media_type_);
    }
    return absl::OkStatus();
  }

  la_ssize_t ReadOuter(void* buf, size_t size) {
    la_ssize_t n = archive_read_data(outer_.get(), buf, size);
    if (n < 0) {
      // A truncated or corrupt compressed stream.
      outer_error_ = absl::DataLossError(absl::StrCat("decompress: ", ArchiveError(outer_.get())));
      return -1;
    }
    stats_.tar_bytes += n;
    if (stats_.tar_bytes > options_.max_bytes) {
      outer_error_ = absl::ResourceExhaustedError(
          absl::StrCat("more than ", options_.max_bytes, " uncompressed bytes"));
      return -1;
    }
    EVP_DigestUpdate(digest_.get(), buf, static_cast<size_t>(n));
    return n;
  }

  static la_ssize_t ReadCallback(archive* a, void* self, const void** out) {
    auto* u = static_cast<Unpacker*>(self);
    la_ssize_t n = u->ReadOuter(u->block_, sizeof u->block_);
    if (n < 0) {
      archive_set_error(a, EIO, "%s", std::string(u->outer_error_.message()).c_str());
      return -1;
    }
    *out = u->block_;
    return n;
  }

  // An error of the tar reader: the outer stream's own when it caused it.
  absl::Status StreamError(const std::string& what) {
    if (!outer_error_.ok()) return outer_error_;
    // A tar that ends before its end-of-archive blocks reads as truncated.
    if (absl::StrContains(what, "Truncated") || absl::StrContains(what, "truncated")) {
      return absl::DataLossError(what);
    }
    return absl::InvalidArgumentError(what);
  }

  absl::Status Entry(archive_entry* entry) {
    const char* raw_path = archive_entry_pathname(entry);
    std::optional<std::string> path = CleanPath(raw_path != nullptr ? raw_path : "");
    if (!path.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("entry ", raw_path, " escapes the layer"));
    }
    const std::string base = path->substr(path->rfind('/') + 1);
    const std::string dir =
        path->size() > base.size() ? path->substr(0, path->size() - base.size() - 1) : "";
    if (absl::StartsWith(base, kWhiteoutPrefix)) {
      ++stats_.whiteouts;
      if (base == kOpaqueMarker) {
        deferred_.push_back({true, dir});
        return absl::OkStatus();
      }
      const std::string name = base.substr(strlen(kWhiteoutPrefix));
      if (name.empty() || name == "." || name == ".." || absl::StartsWith(name, kWhiteoutPrefix)) {
        return absl::InvalidArgumentError(
            absl::StrCat("entry ", raw_path, " is a malformed whiteout"));
      }
      deferred_.push_back({false, dir.empty() ? name : dir + "/" + name});
      return absl::OkStatus();
    }
    const mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFCHR || type == AE_IFBLK) {
      ++stats_.devices_skipped;
      spdlog::debug("unpack: skipping device node {}", *path);
      return absl::OkStatus();
    }
    archive_entry_set_pathname(entry, path->empty() ? "." : path->c_str());
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      std::optional<std::string> target = CleanPath(link);
      if (!target.has_value() || target->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("hard link ", raw_path, " -> ", link, " escapes the layer"));
      }
      if (absl::Status s = CheckParents(*target, /*create=*/false); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("hard link ", raw_path, " -> ", link, ": ", s.message()));
      }
      struct stat st;
      if (lstat(target->c_str(), &st) != 0 || S_ISDIR(st.st_mode)) {
        return absl::InvalidArgumentError(absl::StrCat("hard link ", raw_path, " -> ", link,
                                                       ": no such file earlier in the layer"));
      }
      archive_entry_set_hardlink(entry, target->c_str());
    }
    DropOverlayXattrs(entry);
    int r = archive_write_header(disk_.get(), entry);
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry ", raw_path, ": ", ArchiveError(disk_.get())));
    }
    if (r == ARCHIVE_WARN) spdlog::debug("unpack {}: {}", *path, ArchiveError(disk_.get()));
    const void* buf;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(inner_.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(disk_.get(), buf, size, offset) < ARCHIVE_OK) {
        return absl::InternalError(absl::StrCat("write ", *path, ": ", ArchiveError(disk_.get())));
      }
    }
    if (r != ARCHIVE_EOF)
      return StreamError(absl::StrCat("read ", *path, ": ", ArchiveError(inner_.get())));
    if (archive_write_finish_entry(disk_.get()) < ARCHIVE_WARN) {
      return absl::InternalError(absl::StrCat("finish ", *path, ": ", ArchiveError(disk_.get())));
    }
    return absl::OkStatus();
  }

  static void DropOverlayXattrs(archive_entry* entry) {
    std::vector<std::pair<std::string, std::string>> kept;
    bool dropped = false;
    archive_entry_xattr_reset(entry);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
      if (absl::StartsWith(name, "trusted.overlay.")) {
        dropped = true;
        continue;
      }
      kept.emplace_back(name, std::string(static_cast<const char*>(value), size));
    }
    if (!dropped) return;
    archive_entry_xattr_clear(entry);
    for (const auto& [n, v] : kept)
      archive_entry_xattr_add_entry(entry, n.c_str(), v.data(), v.size());
  }

  absl::Status Apply(const Deferred& d) {
    if (d.opaque) {
      const std::string dir = d.path.empty() ? "." : d.path;
      if (absl::Status s = CheckParents(dir + "/x", /*create=*/true); !s.ok()) return s;
      struct stat st;
      if (lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT || mkdir(dir.c_str(), 0755) != 0) {
          return absl::ErrnoToStatus(errno, absl::StrCat("opaque directory ", dir));
        }
      } else if (!S_ISDIR(st.st_mode)) {
        return absl::InvalidArgumentError(
            absl::StrCat("opaque marker in ", dir, ", not a directory"));
      }
      if (lsetxattr(dir.c_str(), kOpaqueXattr, "y", 1, 0) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("mark ", dir, " opaque"));
      }
      return absl::OkStatus();
    }
    if (absl::Status s = CheckParents(d.path, /*create=*/true); !s.ok()) return s;
    struct stat st;
    if (lstat(d.path.c_str(), &st) == 0) {
      // The same layer both adds and deletes the name: the deletion wins.
      if (absl::Status s = runtime::RemoveTree(d.path); !s.ok()) return s;
    }
    if (mknod(d.path.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("whiteout ", d.path));
    }
    return absl::OkStatus();
  }

  const std::string blob_;
  const std::string media_type_;
  const UnpackOptions options_;
  std::unique_ptr<archive, ArchiveDeleter> outer_, inner_;
  std::unique_ptr<archive, WriterDeleter> disk_;
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> digest_;
  absl::Status outer_error_;
  std::vector<Deferred> deferred_;
  UnpackStats stats_;
  std::string digest_hex_;
  char block_[kReadBlock];
};

}  // namespace

bool IsLayerMediaType(const std::string& media_type) {
  static const char* const kKnown[] = {
      "",
      kMediaTypeOciLayer,
      kMediaTypeOciLayerGzip,
      kMediaTypeOciLayerZstd,
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      kMediaTypeDockerLayer,
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (const char* k : kKnown) {
    if (media_type == k) return true;
  }
  return false;
}

absl::StatusOr<UnpackStats> UnpackLayer(const std::string& blob_path, const std::string& media_type,
                                        const std::string& diff_id, const std::string& target_dir,
                                        const UnpackOptions& options) {
  auto fail = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("unpack layer ", diff_id, ": ", s.message()));
  };
  if (!IsLayerMediaType(media_type)) {
    return fail(
        absl::InvalidArgumentError(absl::StrCat("unsupported media type \"", media_type, "\"")));
  }
  if (!ValidDiffId(diff_id)) {
    return fail(absl::InvalidArgumentError("diff_id must be sha256:<64 lowercase hex>"));
  }
  if (target_dir.empty() || target_dir[0] != '/') {
    return fail(
        absl::InvalidArgumentError(absl::StrCat("target ", target_dir, " is not absolute")));
  }
  struct stat st;
  if (lstat(target_dir.c_str(), &st) == 0) {
    return fail(absl::AlreadyExistsError(absl::StrCat("target ", target_dir, " exists")));
  }
  if (absl::Status s = runtime::MakeDirs(target_dir, 0755); !s.ok()) return fail(s);

  auto unpacker = std::make_unique<Unpacker>(blob_path, media_type, options);
  absl::Status result;
  // A thread of its own: its working directory is private (CLONE_FS) and
  // ends with it.
  std::thread worker([&] {
    if (unshare(CLONE_FS) != 0) {
      result = absl::ErrnoToStatus(errno, "unshare(CLONE_FS)");
    } else if (chdir(target_dir.c_str()) != 0) {
      result = absl::ErrnoToStatus(errno, absl::StrCat("chdir ", target_dir));
    } else {
      result = unpacker->Run();
    }
  });
  worker.join();
  if (result.ok() && unpacker->digest() != diff_id) {
    result = absl::DataLossError(
        absl::StrCat("uncompressed content has digest ", unpacker->digest(), ", not the diff_id"));
  }
  if (!result.ok()) {
    if (absl::Status s = runtime::RemoveTree(target_dir); !s.ok()) {
      spdlog::error("unpack layer {}: cleanup: {}", diff_id, s.ToString());
    }
    return fail(result);
  }
  return unpacker->stats();
}

}  // namespace berth::snapshot
