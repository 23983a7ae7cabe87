// Overlay file system helpers shared by the snapshotter and the runtime:
// the whiteout conventions of overlay lower directories (as containerd's
// overlay snapshotter writes them), the mount option string and its limit,
// and a probe for whether overlay mounts work where containers live.
#ifndef BERTH_RUNTIME_SNAPSHOT_OVERLAY_H_
#define BERTH_RUNTIME_SNAPSHOT_OVERLAY_H_

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::snapshot {

// In a lower directory a whiteout (a path deleted by this layer) is a
// character device 0/0 with the deleted name, and an opaque directory (one
// whose lower contents are hidden) carries this xattr with value "y".
inline constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";
bool IsWhiteout(const struct stat& st);

// mount(2) copies its data argument into one page: the whole option string
// must be shorter than this.
inline constexpr size_t kMaxMountOptionBytes = 4095;

// "lowerdir=l1:l2:...,upperdir=U,workdir=W" with the layers top-most first.
std::string OverlayMountOptions(const std::vector<std::string>& lower_top_first,
                                const std::string& upper, const std::string& work);

// Whether overlay is listed in /proc/filesystems and a probe mount with an
// upper directory inside `dir` (created and removed again as
// `<dir>/.overlay-probe-XXXXXX`) works and hides a whited-out file.
// kUnavailable with the cause when it does not.
absl::Status ProbeOverlay(const std::string& dir);

}  // namespace berth::snapshot

#endif  // BERTH_RUNTIME_SNAPSHOT_OVERLAY_H_
