#include "runtime/snapshot/copy_layers.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"

namespace berth::snapshot {
namespace {

using runtime::UniqueFd;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(what, " ", path));
}

bool IsOpaque(const std::string& dir) {
  char v[2];
  ssize_t n = lgetxattr(dir.c_str(), kOpaqueXattr, v, sizeof v);
  return n == 1 && v[0] == 'y';
}

absl::Status CopyXattrs(const std::string& from, const std::string& to) {
  ssize_t n = llistxattr(from.c_str(), nullptr, 0);
  if (n < 0) return errno == ENOTSUP ? absl::OkStatus() : Errno("list xattrs of", from);
  std::string names(static_cast<size_t>(n), '\0');
  n = llistxattr(from.c_str(), names.data(), names.size());
  if (n < 0) return Errno("list xattrs of", from);
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    const std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    if (absl::StartsWith(name, "trusted.overlay.")) continue;
    ssize_t len = lgetxattr(from.c_str(), name.c_str(), nullptr, 0);
    if (len < 0) return Errno(absl::StrCat("read xattr ", name, " of"), from);
    std::string value(static_cast<size_t>(len), '\0');
    len = lgetxattr(from.c_str(), name.c_str(), value.data(), value.size());
    if (len < 0) return Errno(absl::StrCat("read xattr ", name, " of"), from);
    if (lsetxattr(to.c_str(), name.c_str(), value.data(), static_cast<size_t>(len), 0) != 0) {
      return Errno(absl::StrCat("set xattr ", name, " on"), to);
    }
  }
  return absl::OkStatus();
}

// Owner, mode (chown clears set-id bits and capabilities, so it goes
// first), xattrs and times of `from` onto `to`.
absl::Status CopyMetadata(const std::string& from, const struct stat& st, const std::string& to) {
  if (lchown(to.c_str(), st.st_uid, st.st_gid) != 0) return Errno("chown", to);
  if (!S_ISLNK(st.st_mode) && chmod(to.c_str(), st.st_mode & 07777) != 0) return Errno("chmod", to);
  if (absl::Status s = CopyXattrs(from, to); !s.ok()) return s;
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (utimensat(AT_FDCWD, to.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return Errno("set times of", to);
  return absl::OkStatus();
}

absl::Status CopyFileData(const std::string& from, const std::string& to, mode_t mode) {
  UniqueFd in(open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return Errno("open", from);
  UniqueFd out(open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777));
  if (!out.valid()) return Errno("create", to);
  while (true) {
    ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n == 0) return absl::OkStatus();
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) {
      return Errno("copy", from);
    }
    break;  // no copy_file_range between these file systems
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read", from);
    if (n == 0) return absl::OkStatus();
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out.get(), buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Errno("write", to);
      done += w;
    }
  }
}

class LayerCopier {
 public:
  // Applies the directory `from` of one layer onto the existing directory
  // `to` of the target.
  absl::Status ApplyDir(const std::string& from, const std::string& to) {
    DIR* d = opendir(from.c_str());
    if (d == nullptr) return Errno("open directory", from);
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    closedir(d);
    for (const std::string& name : names) {
      if (absl::Status s = ApplyEntry(from + "/" + name, to + "/" + name); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ApplyEntry(const std::string& from, const std::string& to) {
    struct stat st;
    if (lstat(from.c_str(), &st) != 0) return Errno("stat", from);
    struct stat existing;
    const bool exists = lstat(to.c_str(), &existing) == 0;
    if (IsWhiteout(st)) {
      return exists ? runtime::RemoveTree(to) : absl::OkStatus();
    }
    if (S_ISDIR(st.st_mode)) {
      // A directory merges with a directory below unless it is opaque; it
      // replaces anything else.
      if (exists && (!S_ISDIR(existing.st_mode) || IsOpaque(from))) {
        if (absl::Status s = runtime::RemoveTree(to); !s.ok()) return s;
      }
      if (!exists || !S_ISDIR(existing.st_mode) || IsOpaque(from)) {
        if (mkdir(to.c_str(), 0700) != 0) return Errno("mkdir", to);
      }
      if (absl::Status s = ApplyDir(from, to); !s.ok()) return s;
      return CopyMetadata(from, st, to);  // last: the children changed its mtime
    }
    if (exists) {
      if (absl::Status s = runtime::RemoveTree(to); !s.ok()) return s;
    }
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), to);
      if (!first) {
        struct stat prior;
        if (lstat(it->second.c_str(), &prior) == 0 && S_ISREG(prior.st_mode) &&
            link(it->second.c_str(), to.c_str()) == 0) {
          return absl::OkStatus();
        }
        it->second = to;  // the first copy is gone: this one is the new first
      }
    }
    if (S_ISREG(st.st_mode)) {
      if (absl::Status s = CopyFileData(from, to, st.st_mode); !s.ok()) return s;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlink(from.c_str(), target.data(), target.size());
      if (n < 0) return Errno("readlink", from);
      target.resize(static_cast<size_t>(n));
      if (symlink(target.c_str(), to.c_str()) != 0) return Errno("symlink", to);
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
               S_ISSOCK(st.st_mode)) {
      if (mknod(to.c_str(), st.st_mode, st.st_rdev) != 0) return Errno("mknod", to);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("copy ", from, ": unknown file type"));
    }
    return CopyMetadata(from, st, to);
  }

  // Hard links within one layer: (device, inode) -> the first copy.
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

absl::Status CopyLayers(const std::vector<std::string>& lower_top_first,
                        const std::string& target) {
  for (auto it = lower_top_first.rbegin(); it != lower_top_first.rend(); ++it) {
    LayerCopier copier;
    if (absl::Status s = copier.ApplyDir(*it, target); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("copy layer ", *it, " to ", target, ": ", s.message()));
    }
    // The layer's root carries the image root's owner and mode. The layer
    // itself may be named through a symlink, as overlay's lowerdir may.
    char resolved[PATH_MAX];
    if (realpath(it->c_str(), resolved) == nullptr) return Errno("resolve", *it);
    struct stat st;
    if (lstat(resolved, &st) != 0) return Errno("stat", *it);
    if (absl::Status s = CopyMetadata(resolved, st, target); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace berth::snapshot
