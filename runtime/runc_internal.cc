#include "runtime/runc_internal.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/sys/process.h"

namespace berth::runtime {

absl::Status WithContext(absl::string_view action, const std::string& id, absl::string_view step,
                         const absl::Status& s) {
  return absl::Status(s.code(),
                      absl::StrCat(action, " container ", id, ": ", step, ": ", s.message()));
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status Unmount(const std::string& path) {
  if (!IsMountPoint(path)) return absl::OkStatus();
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unmount ", path));
  }
  return absl::OkStatus();
}

void Keep(absl::Status* first, absl::Status s) {
  if (!s.ok() && first->ok()) *first = std::move(s);
}

}  // namespace berth::runtime
