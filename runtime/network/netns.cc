#include "runtime/network/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runtime/sys/process.h"

namespace berth::runtime::network {
namespace {

// Sets "lo" up in the calling thread's network namespace.
absl::Status LoopbackUp() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  ifreq ifr = {};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  absl::Status s;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    s = absl::ErrnoToStatus(errno, "get the flags of lo");
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) s = absl::ErrnoToStatus(errno, "set lo up");
  }
  close(fd);
  return s;
}

}  // namespace

absl::StatusOr<std::string> CreateNetns(const std::string& dir, const std::string& name) {
  if (absl::Status s = MakeDirs(dir, 0755); !s.ok()) return s;
  const std::string path = absl::StrCat(dir, "/", name);
  const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("create network namespace ", path, ": exists"));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("create network namespace file ", path));
  }
  close(fd);
  // A thread of its own: unshare changes the calling thread's namespace,
  // and that thread ends right after the mount (the mount keeps the
  // namespace alive).
  absl::Status status;
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      status = absl::ErrnoToStatus(errno, "unshare(CLONE_NEWNET)");
      return;
    }
    // Loopback up, as containerd's CRI does whatever the network config
    // holds: a socket made now belongs to the new namespace.
    if (absl::Status s = LoopbackUp(); !s.ok()) {
      status = s;
      return;
    }
    const std::string self =
        absl::StrCat("/proc/self/task/", static_cast<long>(syscall(SYS_gettid)), "/ns/net");
    if (mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("bind-mount ", self, " on ", path));
    }
  });
  t.join();
  if (!status.ok()) {
    unlink(path.c_str());
    return absl::Status(status.code(),
                        absl::StrCat("create network namespace ", path, ": ", status.message()));
  }
  return path;
}

absl::Status EnterNewNetns() {
  if (unshare(CLONE_NEWNET) != 0) return absl::ErrnoToStatus(errno, "unshare(CLONE_NEWNET)");
  return LoopbackUp();
}

bool IsNetns(const std::string& path) {
  struct statfs fs;
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

absl::Status RemoveNetns(const std::string& path) {
  // A bind mount can be stacked (a retried mount after a crash): until none
  // is left, at most a few.
  for (int i = 0; i < 8 && IsNetns(path); ++i) {
    if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("unmount network namespace ", path));
    }
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove network namespace file ", path));
  }
  return absl::OkStatus();
}

std::vector<std::string> ListNetns(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str()); d != nullptr) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
  }
  return out;
}

}  // namespace berth::runtime::network
