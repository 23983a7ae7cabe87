#include "runtime/live_handles.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <iterator>
#include <utility>

#include "absl/strings/string_view.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"

namespace berth::runtime {

void LiveHandles::Close(UniqueFd& fd) {
  if (fd.valid()) {
    fd.Reset();
    --fds_;
  }
}

bool LiveHandles::Alive(const std::string& id, pid_t pid, uint64_t start_time) {
  if (pid <= 0 || start_time == 0) return false;
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[id];
  if (e.pid != pid || e.start_time != start_time) {
    Close(e.pidfd);
    e.pid = pid;
    e.start_time = start_time;
    e.exited = false;
  }
  if (e.exited) return false;
  if (!e.pidfd.valid()) {
    if (fds_ >= max_fds_) return ProcessIsAlive(pid, start_time);
    absl::StatusOr<UniqueFd> fd = OpenPidFd(pid, start_time);
    if (!fd.ok()) {
      // Gone, or exited: it stays so. Any other failure: asked by path.
      if (absl::IsNotFound(fd.status())) {
        e.exited = true;
        return false;
      }
      return ProcessIsAlive(pid, start_time);
    }
    e.pidfd = *std::move(fd);
    ++fds_;
  }
  pollfd p{e.pidfd.get(), POLLIN, 0};
  const int n = poll(&p, 1, 0);
  if (n < 0) return ProcessIsAlive(pid, start_time);
  if (n > 0) {  // readable: the process has exited
    e.exited = true;
    Close(e.pidfd);
    return false;
  }
  return true;
}

bool LiveHandles::Frozen(const std::string& id, const std::string& cgroups_path) {
  const std::string path = FreezerStatePath(cgroups_path);
  if (path.empty()) return false;
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[id];
  if (e.cgroups_path != cgroups_path) {
    Close(e.freezer);
    e.cgroups_path = cgroups_path;
  }
  if (!e.freezer.valid() && fds_ < max_fds_) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid()) {
      e.freezer = std::move(fd);
      ++fds_;
    }
  }
  if (e.freezer.valid()) {
    char buf[64];
    const ssize_t n = pread(e.freezer.get(), buf, sizeof(buf), 0);
    if (n >= 0) return FreezerContentIsFrozen(absl::string_view(buf, static_cast<size_t>(n)));
    Close(e.freezer);  // its cgroup is gone (ENODEV): by path from now on
  }
  return CgroupIsFrozen(cgroups_path);
}

void LiveHandles::Forget(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Close(it->second.pidfd);
  Close(it->second.freezer);
  entries_.erase(it);
}

void LiveHandles::Retain(const std::set<std::string>& ids) {
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (ids.count(it->first) != 0) {
      ++it;
      continue;
    }
    Close(it->second.pidfd);
    Close(it->second.freezer);
    it = entries_.erase(it);
  }
}

size_t LiveHandles::open_fds() const {
  absl::MutexLock lock(&mu_);
  return fds_;
}

}  // namespace berth::runtime
