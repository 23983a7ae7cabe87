// The rootfs without overlay: the layers copied into one directory bottom-up
// with their whiteouts applied, as containerd's native snapshotter does.
// Used by the runtime when overlay is unavailable (or its mount options
// would not fit in a page). Costs a full copy per container: slower to
// create and more disk than overlay, with the same view from inside.
#ifndef BERTH_RUNTIME_SNAPSHOT_COPY_LAYERS_H_
#define BERTH_RUNTIME_SNAPSHOT_COPY_LAYERS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::snapshot {

// Copies `lower_top_first` (overlay lower directories: whiteouts are
// character devices 0/0, opaque directories carry trusted.overlay.opaque=y)
// into `target` (an existing, normally empty, directory) so that it shows
// what an overlay mount of them would. Owners, modes, times, xattrs (but
// trusted.overlay.*), symlinks, fifos and hard links within a layer are
// kept; files are copied, never linked to the layers. Never follows a
// symlink of the layers or of the target.
absl::Status CopyLayers(const std::vector<std::string>& lower_top_first, const std::string& target);

}  // namespace berth::snapshot

#endif  // BERTH_RUNTIME_SNAPSHOT_COPY_LAYERS_H_
