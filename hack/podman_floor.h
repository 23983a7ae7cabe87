// Podman as a second floor for the converge benchmark, when it is installed:
// `podman kube play` and `podman kube down` of N Pods of one busybox
// container each, the same program as the other sides run. Everything of
// podman's (its storage, run and temporary directories, its configuration)
// is kept under one directory of the benchmark's own, so the machine's
// podman, if any, is left alone.
//
// Debian's podman builds its pod's infra image from catatonit (install it
// with podman), and on a machine without CAP_SYS_RESOURCE runc cannot give
// a container podman's default open-file and process limits: the
// configuration here sets both at or below this process's hard limits.
#ifndef BERTH_HACK_PODMAN_FLOOR_H_
#define BERTH_HACK_PODMAN_FLOOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::bench {

class PodmanFloor {
 public:
  // `podman` on PATH, or "" when there is none.
  static std::string Find();

  // Prepares <dir> for `podman` and imports `rootfs` as the image the pods
  // run, with SIGKILL as its stop signal (as the other sides stop).
  static absl::StatusOr<PodmanFloor> Prepare(const std::string& podman, const std::string& dir,
                                             const std::string& rootfs);

  // Writes <dir>/<prefix>.yaml with `n` Pods named <prefix><i> (one
  // container of `args` each, imagePullPolicy Never) and runs `podman kube
  // play --network none` of it: the wall time until it returned, i.e. until
  // every container runs.
  absl::StatusOr<absl::Duration> PlayAll(const std::string& prefix, int n,
                                         const std::vector<std::string>& args) const;
  // `podman kube down` of that file: the wall time.
  absl::StatusOr<absl::Duration> DownAll(const std::string& prefix) const;

  // Removes every pod (after a failed run), the images, what podman's
  // storage left mounted, and <dir>; the cgroups podman made for its pods
  // (/libpod_parent in each hierarchy) go when empty, unless they were
  // there before Prepare.
  absl::Status Remove() const;

 private:
  PodmanFloor() = default;
  std::vector<std::string> Command(std::vector<std::string> args) const;

  std::string podman_, dir_;
  bool had_libpod_parent_ = false;
};

}  // namespace berth::bench

#endif  // BERTH_HACK_PODMAN_FLOOR_H_
