#include "runtime/exit_watcher.h"

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {
namespace {

constexpr char kExitFile[] = "exit.json";
// What changes the exit file: the monitor renames it into place; a plain
// write (closed after writing) counts too.
constexpr uint32_t kDirEvents = IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW;
// New container directories appear in the root.
constexpr uint32_t kRootEvents = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR;
// While a watch is missing (the watch limit), how often the watcher looks.
constexpr int kRescanMillis = 1000;

bool IsDir(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace

absl::StatusOr<std::unique_ptr<ExitWatcher>> ExitWatcher::Start(std::string containers_dir,
                                                                Callback on_exit) {
  UniqueFd inotify(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("watch exits in ", containers_dir, ": inotify"));
  }
  UniqueFd stop(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("watch exits in ", containers_dir, ": eventfd"));
  }
  std::unique_ptr<ExitWatcher> w(new ExitWatcher(std::move(containers_dir), std::move(on_exit),
                                                 std::move(inotify), std::move(stop)));
  w->root_wd_ = inotify_add_watch(w->inotify_.get(), w->dir_.c_str(), kRootEvents);
  if (w->root_wd_ < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("watch exits in ", w->dir_));
  }
  // Directories already there: their exits so far are the caller's to read
  // (it lists the runtime at start); from now on they are reported.
  if (DIR* d = opendir(w->dir_.c_str())) {
    while (struct dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (IsDir(w->dir_ + "/" + name)) w->WatchDir(name);
    }
    closedir(d);
  }
  w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

ExitWatcher::ExitWatcher(std::string containers_dir, Callback on_exit, UniqueFd inotify,
                         UniqueFd stop)
    : dir_(std::move(containers_dir)),
      on_exit_(std::move(on_exit)),
      inotify_(std::move(inotify)),
      stop_(std::move(stop)) {}

ExitWatcher::~ExitWatcher() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (write(stop_.get(), &one, sizeof one) != sizeof one) {
      spdlog::error("exit watcher: stop: {}", strerror(errno));
    }
    thread_.join();
  }
}

int ExitWatcher::WatchDir(const std::string& name) {
  const std::string path = absl::StrCat(dir_, "/", name);
  const int wd = inotify_add_watch(inotify_.get(), path.c_str(), kDirEvents);
  if (wd < 0) {
    // Gone already (ENOENT), or not a directory: nothing to watch. Out of
    // watches: look again later.
    if (errno == ENOSPC || errno == ENOMEM) {
      if (!missed_) {
        spdlog::warn(
            "watch exits of container {}: {} (fs.inotify.max_user_watches); exits are "
            "noticed at the next relist",
            name, strerror(errno));
      }
      missed_ = true;
    }
    return -1;
  }
  ids_[wd] = name;
  return wd;
}

void ExitWatcher::ReportIfExited(const std::string& name) {
  if (Exists(absl::StrCat(dir_, "/", name, "/", kExitFile))) on_exit_(name);
}

void ExitWatcher::Rescan(bool report_all) {
  missed_ = false;
  // Every directory is watched again: adding a watch to a watched directory
  // gives its descriptor back, and after an overflow the removals of some
  // directories (and so which descriptors are stale) may have been lost.
  const std::map<int, std::string> before = std::move(ids_);
  ids_.clear();
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (!IsDir(absl::StrCat(dir_, "/", name))) continue;
    const int wd = WatchDir(name);
    if (wd < 0) continue;
    auto it = before.find(wd);
    const bool added = it == before.end() || it->second != name;
    if (report_all || added) ReportIfExited(name);
  }
  closedir(d);
}

bool ExitWatcher::Drain() {
  alignas(struct inotify_event) char buf[16 * 1024];
  while (true) {
    const ssize_t n = read(inotify_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      spdlog::error("exit watcher: read {}: {}", dir_, strerror(errno));
      return false;
    }
    bool overflow = false;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      const std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      if (ev->mask & IN_Q_OVERFLOW) {
        overflow = true;
      } else if (ev->wd == root_wd_) {
        // An exit renamed in before the watch was added is reported now.
        if ((ev->mask & IN_ISDIR) && !name.empty() && WatchDir(name) >= 0) ReportIfExited(name);
      } else if (ev->mask & IN_IGNORED) {
        ids_.erase(ev->wd);  // the directory was removed
      } else if (name == kExitFile) {
        auto it = ids_.find(ev->wd);
        if (it != ids_.end()) on_exit_(it->second);
      }
    }
    if (overflow) {
      spdlog::warn("exit watcher: events of {} were dropped; looking at every container", dir_);
      Rescan(/*report_all=*/true);
    }
  }
}

void ExitWatcher::Run() {
  struct pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  while (true) {
    const int r = poll(fds, 2, missed_ ? kRescanMillis : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      spdlog::error("exit watcher: poll: {}", strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (r == 0) {
      Rescan(/*report_all=*/false);
      continue;
    }
    if (!Drain()) return;
  }
}

}  // namespace berth::runtime
