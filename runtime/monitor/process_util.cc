#include "runtime/monitor/process_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <initializer_list>

#include "runtime/monitor/sys_util.h"

namespace berth::monitor {

const int kIgnoredSignals[4] = {SIGPIPE, SIGHUP, SIGINT, SIGTERM};

namespace {

void SetIgnoredSignals(void (*handler)(int)) {
  struct sigaction action = {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  for (int sig : kIgnoredSignals) sigaction(sig, &action, nullptr);
}

// Writes the concatenation of `parts` (at most 1 KiB of it) to stderr in
// one write, allocating nothing: safe in a vfork child.
void WriteStderr(std::initializer_list<const char*> parts) {
  char buf[1024];
  size_t len = 0;
  for (const char* part : parts) {
    for (; *part != '\0' && len < sizeof buf; ++part) buf[len++] = *part;
  }
  WriteAll(STDERR_FILENO, buf, len);
}

// In the vfork child of SpawnChild. Does not return on failure.
void MountOverlayInOwnNamespace(const ChildOverlay& overlay) {
  const char* step = nullptr;
  const char* target = "";
  if (unshare(CLONE_NEWNS) != 0) {
    step = "enter a mount namespace of its own";
  } else if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    step = "make its mounts slaves";
  } else if (mount("overlay", overlay.target.c_str(), "overlay", MS_NODEV,
                   overlay.options.c_str()) != 0) {
    step = "mount overlay on ";
    target = overlay.target.c_str();
  } else {
    return;
  }
  WriteStderr({"berth-monitor: ", step, target, ": ", strerror(errno), "\n"});
  _exit(kChildMountFailed);
}

// Fallback for kernels without close_range(2).
void CloseFdsFromProc(int keep) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  std::vector<int> fds;
  while (struct dirent* entry = readdir(dir)) {
    int64_t fd = 0;
    if (ParseInt64(entry->d_name, &fd) && fd > 2 && fd != keep && fd != dirfd(dir)) {
      fds.push_back(static_cast<int>(fd));
    }
  }
  closedir(dir);
  for (int fd : fds) close(fd);
}

bool CloseRange(unsigned int first, unsigned int last) {
  if (first > last) return true;
  return close_range(first, last, 0) == 0;
}

// Points stdin, stdout and stderr at /dev/null.
bool RedirectStdioToDevNull(std::string* error) {
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) {
    *error = ErrnoMessage("open", "/dev/null", errno);
    return false;
  }
  for (int fd = 0; fd <= 2; ++fd) {
    if (null_fd != fd && dup2(null_fd, fd) < 0) {
      *error = ErrnoMessage("redirect", "stdio to /dev/null", errno);
      return false;
    }
  }
  if (null_fd > 2) close(null_fd);
  return true;
}

// Makes `fd` the child's descriptor `target`, without close-on-exec.
void InstallFd(int fd, int target) {
  if (fd < 0) return;
  if (fd == target) {
    fcntl(fd, F_SETFD, 0);
  } else {
    dup2(fd, target);
  }
}

}  // namespace

void CloseFdsExcept(int keep) {
  const unsigned int kMax = ~0U;
  bool ok = keep < 3 ? CloseRange(3, kMax)
                     : CloseRange(3, static_cast<unsigned int>(keep) - 1) &&
                           CloseRange(static_cast<unsigned int>(keep) + 1, kMax);
  if (!ok) CloseFdsFromProc(keep);
}

bool DetachFromSpawner(int* sync_fd, std::string* error) {
  pid_t pid = fork();
  if (pid < 0) {
    *error = ErrnoMessage("fork", "monitor", errno);
    return false;
  }
  if (pid > 0) _exit(0);
  if (setsid() < 0) {
    *error = ErrnoMessage("create", "monitor session", errno);
    return false;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    *error = ErrnoMessage("become", "child subreaper", errno);
    return false;
  }
  SetIgnoredSignals(SIG_IGN);
  if (*sync_fd <= 2) {
    int moved = fcntl(*sync_fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
      *error = ErrnoMessage("move", "sync fd", errno);
      return false;
    }
    *sync_fd = moved;
  }
  fcntl(*sync_fd, F_SETFD, FD_CLOEXEC);
  if (!RedirectStdioToDevNull(error)) return false;
  CloseFdsExcept(*sync_fd);
  return true;
}

bool SpawnChild(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd, pid_t* pid,
                std::string* error, const ChildOverlay* overlay) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  // vfork: the child borrows the monitor's memory until its exec, so
  // neither copies nor tears down the monitor's page tables (a fork's cost
  // twice over). The child only makes system calls on what was built
  // above, allocates nothing and never returns from here; the monitor is
  // single-threaded and waits meanwhile. The child's signal dispositions
  // are its own (no CLONE_SIGHAND): they are reset before the mask is
  // cleared, so no handler of the monitor's runs in it.
  const pid_t child = vfork();
  if (child < 0) {
    *error = ErrnoMessage("fork", argv[0], errno);
    return false;
  }
  if (child > 0) {
    *pid = child;
    return true;
  }
  SetIgnoredSignals(SIG_DFL);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  InstallFd(stdout_fd, STDOUT_FILENO);
  InstallFd(stderr_fd, STDERR_FILENO);
  if (overlay != nullptr) MountOverlayInOwnNamespace(*overlay);
  execvp(args[0], args.data());
  WriteStderr({"exec ", args[0], ": ", strerror(errno), "\n"});
  _exit(127);
}

}  // namespace berth::monitor
