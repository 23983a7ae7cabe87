#include "controller/sources/directory_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/queue/clock.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

using ::berth::runtime::UniqueFd;

constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                                IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |
                                IN_MOVE_SELF | IN_ONLYDIR;
// How often a missing directory is looked for.
constexpr absl::Duration kMissingPollInterval = absl::Milliseconds(500);
// How often a watched path is checked to still name the watched directory
// (a re-pointed symlink, or a mount over it, sends no event).
constexpr absl::Duration kRecheckInterval = absl::Seconds(1);

// Whether `dir`/`name` is a regular file (or gone already): one that gets
// an IN_CLOSE_WRITE after its IN_CREATE. A symlink or FIFO does not.
bool IsRegularFileOrMissing(const std::string& dir, const std::string& name) {
  struct stat st;
  if (fstatat(AT_FDCWD, (dir + "/" + name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT;
  }
  return S_ISREG(st.st_mode);
}

int PollTimeoutMs(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  int64_t us = absl::ToInt64Microseconds(d);
  return static_cast<int>(std::min<int64_t>((us + 999) / 1000, 60'000));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::Start(
    std::string dir, absl::Duration debounce, std::function<void()> on_change) {
  if (!on_change) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch directory ", dir, ": no on_change callback"));
  }
  return Start(std::move(dir), debounce,
               [f = std::move(on_change)](const DirectoryChange&) { f(); });
}

absl::StatusOr<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::Start(
    std::string dir, absl::Duration debounce,
    std::function<void(const DirectoryChange&)> on_change) {
  if (!on_change) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch directory ", dir, ": no on_change callback"));
  }
  UniqueFd inotify_fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_fd.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("watch directory ", dir, ": inotify_init1"));
  }
  UniqueFd stop_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop_fd.valid()) {
    return absl::ErrnoToStatus(errno, absl::StrCat("watch directory ", dir, ": eventfd"));
  }
  std::unique_ptr<DirectoryWatcher> watcher(
      new DirectoryWatcher(std::move(dir), std::max(debounce, absl::ZeroDuration()),
                           std::move(on_change), std::move(inotify_fd), std::move(stop_fd)));
  int err = watcher->AddWatch();
  if (err != 0 && err != ENOENT && err != ENOTDIR && err != EAGAIN) {
    return absl::ErrnoToStatus(
        err, absl::StrCat("watch directory ", watcher->dir_, ": inotify_add_watch"));
  }
  if (err != 0) {
    spdlog::warn("watch directory {}: {}; polling until it exists", watcher->dir_,
                 std::strerror(err));
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->Run(); });
  return watcher;
}

DirectoryWatcher::DirectoryWatcher(std::string dir, absl::Duration debounce,
                                   std::function<void(const DirectoryChange&)> on_change,
                                   UniqueFd inotify_fd, UniqueFd stop_fd)
    : dir_(std::move(dir)),
      debounce_(debounce),
      on_change_(std::move(on_change)),
      inotify_fd_(std::move(inotify_fd)),
      stop_fd_(std::move(stop_fd)) {}

DirectoryWatcher::~DirectoryWatcher() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t n;
    do {
      n = write(stop_fd_.get(), &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    // n < 0 only with EAGAIN: the counter is already non-zero, i.e. woken.
    thread_.join();
  }
}

int DirectoryWatcher::AddWatch() {
  // stat before and after, so that the identity recorded is the one watched
  // even if the path is being replaced meanwhile.
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct stat before;
    if (stat(dir_.c_str(), &before) != 0) return errno;
    if (!S_ISDIR(before.st_mode)) return ENOTDIR;
    int wd = inotify_add_watch(inotify_fd_.get(), dir_.c_str(), kWatchMask);
    if (wd < 0) return errno;
    struct stat after;
    if (stat(dir_.c_str(), &after) == 0 && after.st_dev == before.st_dev &&
        after.st_ino == before.st_ino) {
      wd_ = wd;
      watched_dev_ = before.st_dev;
      watched_ino_ = before.st_ino;
      return 0;
    }
    inotify_rm_watch(inotify_fd_.get(), wd);
  }
  return EAGAIN;
}

void DirectoryWatcher::RemoveWatch() {
  if (wd_ < 0) return;
  // Fails harmlessly (EINVAL) if the kernel already dropped the watch.
  inotify_rm_watch(inotify_fd_.get(), wd_);
  wd_ = -1;
}

bool DirectoryWatcher::StillWatchingPath() const {
  struct stat st;
  return stat(dir_.c_str(), &st) == 0 && st.st_dev == watched_dev_ && st.st_ino == watched_ino_;
}

bool DirectoryWatcher::DrainEvents(bool& watch_lost) {
  alignas(struct inotify_event) char buf[16 * 1024];
  bool any = false;
  while (true) {
    ssize_t n = read(inotify_fd_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        spdlog::warn("watch directory {}: read inotify events: {}", dir_, std::strerror(errno));
        any = true;  // unknown state: let the owner rescan everything
        change_.all = true;
      }
      return any;
    }
    if (n == 0) return any;
    for (ssize_t off = 0; off < n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += sizeof(struct inotify_event) + event->len;
      any = true;
      if (event->mask & IN_Q_OVERFLOW) {
        // Events were dropped, maybe the one saying the watch is gone:
        // watch anew.
        spdlog::warn("watch directory {}: inotify queue overflowed", dir_);
        change_.all = true;
        RemoveWatch();
        watch_lost = true;
        continue;
      }
      if (event->wd != wd_ || wd_ < 0) continue;
      if (event->len == 0) change_.all = true;  // the directory itself
      if (event->len > 0) {
        const std::string name(event->name);
        change_.names.insert(name);
        if (event->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) {
          writing_.erase(name);  // complete (or gone; a new name is whole)
        } else if ((event->mask & IN_MODIFY) ||
                   ((event->mask & IN_CREATE) && !(event->mask & IN_ISDIR) &&
                    IsRegularFileOrMissing(dir_, name))) {
          // Content to come: a created regular file gets IN_CLOSE_WRITE.
          writing_.insert(name);
        }
      }
      if (event->mask & (IN_IGNORED | IN_UNMOUNT)) {
        wd_ = -1;  // the kernel removed the watch
        watch_lost = true;
      } else if (event->mask & (IN_MOVE_SELF | IN_DELETE_SELF)) {
        // After MOVE_SELF the watch would follow the directory to its new
        // name; the path is what matters. (After DELETE_SELF, IN_IGNORED
        // follows; removing first is harmless.)
        RemoveWatch();
        watch_lost = true;
      }
    }
  }
}

void DirectoryWatcher::Run() {
  bool pending = false;
  absl::Time first_event = absl::InfinitePast();
  absl::Time last_event = absl::InfinitePast();
  absl::Time next_check =
      SteadyClock().Now() + (wd_ >= 0 ? kRecheckInterval : kMissingPollInterval);
  const absl::Duration max_delay = debounce_;
  const absl::Duration quiet = debounce_ / kQuietFraction;
  // When a pending change is reported: `quiet` after the last event
  // when nothing is half-written, else at the bound.
  auto due = [&] {
    const absl::Time bound = first_event + max_delay;
    return writing_.empty() ? std::min(bound, last_event + quiet) : bound;
  };
  int last_add_error = 0;

  while (true) {
    absl::Time wake = next_check;
    if (pending) {
      wake = std::min(wake, due());
    }
    struct pollfd fds[2] = {{stop_fd_.get(), POLLIN, 0}, {inotify_fd_.get(), POLLIN, 0}};
    int ready = poll(fds, 2, PollTimeoutMs(wake - SteadyClock().Now()));
    if (ready < 0 && errno != EINTR) {
      spdlog::error("watch directory {}: poll: {}", dir_, std::strerror(errno));
      absl::SleepFor(absl::Milliseconds(100));  // no busy loop on odd errors
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) return;

    bool changed = false;
    bool watch_lost = false;
    if (ready > 0 && fds[1].revents != 0) changed = DrainEvents(watch_lost);

    absl::Time now = SteadyClock().Now();
    if (wd_ >= 0 && now >= next_check && !StillWatchingPath()) {
      spdlog::info(
          "watch directory {}: path now names another directory or "
          "none; re-watching",
          dir_);
      RemoveWatch();
      watch_lost = true;
    }
    if (wd_ < 0 && (watch_lost || now >= next_check)) {
      if (watch_lost) {
        changed = true;
        change_.all = true;
        spdlog::info("watch directory {}: directory went away", dir_);
      }
      int err = AddWatch();
      if (err == 0) {
        changed = true;  // (re)appeared: its content may be anything
        change_.all = true;
        spdlog::info("watch directory {}: watching", dir_);
        last_add_error = 0;
      } else if (err != last_add_error) {
        // Logged once per distinct cause, not every poll.
        spdlog::warn("watch directory {}: {}; polling until it exists", dir_, std::strerror(err));
        last_add_error = err;
      }
    }
    if (now >= next_check || watch_lost) {
      next_check = now + (wd_ >= 0 ? kRecheckInterval : kMissingPollInterval);
    }

    if (changed) {
      if (!pending) first_event = now;
      pending = true;
      last_event = now;
    }
    if (pending && now >= due()) {
      pending = false;
      writing_.clear();  // a writer that never closes waits once, not forever
      const DirectoryChange change = std::exchange(change_, DirectoryChange{});
      on_change_(change);
    }
  }
}

}  // namespace berth::controller
