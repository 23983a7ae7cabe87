#include "hack/podman_floor.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"

namespace berth::bench {
namespace {

constexpr char kImage[] = "localhost/berth-bench-busybox:1";
constexpr absl::Duration kTimeout = absl::Minutes(30);

// A soft = hard limit at or below this process's hard limit of `resource`.
rlim_t AtMost(int resource, rlim_t wanted) {
  struct rlimit l {};
  if (getrlimit(resource, &l) != 0) return wanted;
  return l.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, l.rlim_max);
}

}  // namespace

std::string PodmanFloor::Find() { return runtime::FindExecutable("podman"); }

absl::StatusOr<PodmanFloor> PodmanFloor::Prepare(const std::string& podman, const std::string& dir,
                                                 const std::string& rootfs) {
  PodmanFloor f;
  f.podman_ = podman;
  f.dir_ = dir;
  f.had_libpod_parent_ = !runtime::ExistingCgroupDirs("/libpod_parent").empty();
  if (absl::Status s = runtime::MakeDirs(dir + "/tmp"); !s.ok()) return s;
  // Its networks' directory is ours too: with the CNI backend it is
  // /etc/cni/net.d by default, whose every file podman takes for one of its
  // networks (`podman system reset` removes them all: it is never run here).
  if (absl::Status s = runtime::MakeDirs(dir + "/net.d"); !s.ok()) return s;
  // Its locks are files under its --tmpdir (lock_type "file"), not the
  // machine's one shared-memory segment (/dev/shm/libpod_lock, which another
  // podman may hold with another size, and whose default 2,048 locks a
  // thousand pods exceed: each takes one for the pod, its infra container
  // and its container).
  const std::string conf =
      absl::StrCat("[containers]\ndefault_ulimits = [\"nofile=", AtMost(RLIMIT_NOFILE, 1024), ":",
                   AtMost(RLIMIT_NOFILE, 1024), "\", \"nproc=", AtMost(RLIMIT_NPROC, 4096), ":",
                   AtMost(RLIMIT_NPROC, 4096), "\"]\n[network]\nnetwork_config_dir = \"", dir,
                   "/net.d\"\n[engine]\nlock_type = \"file\"\n");
  if (absl::Status s = runtime::WriteFileAtomic(dir + "/containers.conf", conf); !s.ok()) {
    return s;
  }
  const std::string tar = dir + "/rootfs.tar";
  if (absl::Status s =
          runtime::RunCommandOk({"/bin/tar", "-C", rootfs, "-cf", tar, "."}, absl::Minutes(1));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = runtime::RunCommandOk(
          f.Command({"import", "--change", "STOPSIGNAL=SIGKILL", tar, kImage}), kTimeout);
      !s.ok()) {
    (void)f.Remove();
    return s;
  }
  return f;
}

std::vector<std::string> PodmanFloor::Command(std::vector<std::string> args) const {
  std::vector<std::string> argv = {"/usr/bin/env",
                                   "CONTAINERS_CONF=" + dir_ + "/containers.conf",
                                   podman_,
                                   "--root",
                                   dir_ + "/root",
                                   "--runroot",
                                   dir_ + "/run",
                                   "--tmpdir",
                                   dir_ + "/tmp",
                                   "--cgroup-manager=cgroupfs",
                                   "--events-backend=none"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

absl::StatusOr<absl::Duration> PodmanFloor::PlayAll(const std::string& prefix, int n,
                                                    const std::vector<std::string>& args) const {
  std::string command = "[";
  for (size_t i = 0; i < args.size(); ++i) {
    absl::StrAppend(&command, i == 0 ? "" : ", ", "\"", args[i], "\"");
  }
  command += "]";
  std::string yaml;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&yaml, i == 0 ? "" : "---\n",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ", prefix, i,
                    "\nspec:\n  restartPolicy: Always\n  terminationGracePeriodSeconds: 1\n"
                    "  containers:\n  - name: c\n    image: ",
                    kImage, "\n    imagePullPolicy: Never\n    command: ", command, "\n");
  }
  const std::string file = absl::StrCat(dir_, "/", prefix, ".yaml");
  if (absl::Status s = runtime::WriteFileAtomic(file, yaml); !s.ok()) return s;
  const absl::Time begin = absl::Now();
  if (absl::Status s =
          runtime::RunCommandOk(Command({"kube", "play", "--network", "none", file}), kTimeout);
      !s.ok()) {
    return s;
  }
  return absl::Now() - begin;
}

absl::StatusOr<absl::Duration> PodmanFloor::DownAll(const std::string& prefix) const {
  const std::string file = absl::StrCat(dir_, "/", prefix, ".yaml");
  const absl::Time begin = absl::Now();
  if (absl::Status s = runtime::RunCommandOk(Command({"kube", "down", file}), kTimeout); !s.ok()) {
    return s;
  }
  return absl::Now() - begin;
}

absl::Status PodmanFloor::Remove() const {
  absl::Status first = runtime::RunCommandOk(
      Command({"pod", "rm", "--all", "--force", "--time", "0"}), kTimeout);
  absl::Status images = runtime::RunCommandOk(Command({"rmi", "--all", "--force"}), kTimeout);
  if (first.ok()) first = images;
  // What the storage driver left mounted under <dir> (its overlay home is
  // a bind mount of itself), deepest first.
  std::vector<std::string> mounts = runtime::MountsUnder(dir_);
  for (auto m = mounts.rbegin(); m != mounts.rend(); ++m) {
    if (umount2(m->c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT && first.ok()) {
      first = absl::ErrnoToStatus(errno, "unmount " + *m);
    }
  }
  absl::Status removed = runtime::RemoveTree(dir_);
  if (first.ok()) first = removed;
  if (!had_libpod_parent_) {
    // Deepest first; rmdir leaves one a process is still in.
    for (const std::string& top : runtime::ExistingCgroupDirs("/libpod_parent")) {
      std::vector<std::string> dirs = {top};
      std::error_code ec;
      for (std::filesystem::recursive_directory_iterator it(top, ec), end; !ec && it != end;
           it.increment(ec)) {
        if (it->is_directory(ec)) dirs.push_back(it->path().string());
      }
      for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) rmdir(d->c_str());
    }
  }
  return first;
}

}  // namespace berth::bench
