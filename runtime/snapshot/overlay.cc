#include "runtime/snapshot/overlay.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/sys/process.h"

namespace berth::snapshot {

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

std::string OverlayMountOptions(const std::vector<std::string>& lower_top_first,
                                const std::string& upper, const std::string& work) {
  return absl::StrCat("lowerdir=", absl::StrJoin(lower_top_first, ":"), ",upperdir=", upper,
                      ",workdir=", work);
}

absl::Status ProbeOverlay(const std::string& dir) {
  absl::StatusOr<std::string> fs = runtime::ReadFile("/proc/filesystems");
  if (!fs.ok())
    return absl::UnavailableError(absl::StrCat("probe overlay: ", fs.status().message()));
  if (!absl::StrContains(*fs, "\toverlay\n")) {
    return absl::UnavailableError("probe overlay: not in /proc/filesystems");
  }
  if (absl::Status s = runtime::MakeDirs(dir, 0700); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("probe overlay: ", s.message()));
  }
  std::string tmpl = dir + "/.overlay-probe-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("probe overlay: mkdtemp in ", dir, ": ", strerror(errno)));
  }
  const std::string base = tmpl;
  absl::Cleanup remove = [&] { runtime::RemoveTree(base).IgnoreError(); };
  const std::string lower = base + "/l", upper = base + "/u", work = base + "/w",
                    merged = base + "/m";
  for (const std::string& d : {lower, upper, work, merged}) {
    if (mkdir(d.c_str(), 0755) != 0) {
      return absl::UnavailableError(
          absl::StrCat("probe overlay: mkdir ", d, ": ", strerror(errno)));
    }
  }
  if (absl::Status s = runtime::WriteFileAtomic(lower + "/gone", "x", runtime::Durability::kAtomic);
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("probe overlay: ", s.message()));
  }
  if (mknod((upper + "/gone").c_str(), S_IFCHR | 0600, makedev(0, 0)) != 0) {
    return absl::UnavailableError(absl::StrCat("probe overlay: whiteout: ", strerror(errno)));
  }
  const std::string options = OverlayMountOptions({lower}, upper, work);
  if (mount("overlay", merged.c_str(), "overlay", MS_NODEV, options.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("probe overlay: mount: ", strerror(errno)));
  }
  struct stat st;
  const bool hidden = lstat((merged + "/gone").c_str(), &st) != 0 && errno == ENOENT;
  umount2(merged.c_str(), MNT_DETACH);
  if (!hidden) return absl::UnavailableError("probe overlay: a whiteout did not hide its file");
  return absl::OkStatus();
}

}  // namespace berth::snapshot
