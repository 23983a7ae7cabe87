#include "runtime/sys/process.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/sys/small_file.h"

extern char** environ;

namespace berth::runtime {
namespace {

absl::Status Errno(absl::string_view action, int err) { return absl::ErrnoToStatus(err, action); }

int PidFdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Unescapes the octal escapes (\040 etc.) of /proc/self/mountinfo.
std::string UnescapeMountPath(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        if (i + k >= in.size() || in[i + k] < '0' || in[i + k] > '7') {
          ok = false;
          break;
        }
        v = v * 8 + (in[i + k] - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");
  // Above 3, so the dup2 to 3 below always clears close-on-exec.
  UniqueFd fd3;
  if (options.fd3 >= 0) {
    fd3.Reset(fcntl(options.fd3, F_DUPFD_CLOEXEC, 10));
    if (!fd3.valid()) return Errno(absl::StrCat("spawn ", argv[0], ": dup"), errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, options.stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  for (auto [target, fd] : {std::pair{1, options.stdout_fd}, std::pair{2, options.stderr_fd}}) {
    if (fd == kDevNull) {
      posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0);
    } else if (fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, fd, target);
    }
  }
  if (fd3.valid()) posix_spawn_file_actions_adddup2(&actions, fd3.get(), 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Neither the caller's blocked nor its ignored signals (berthd ignores
  // SIGPIPE) may reach the program.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int err = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Errno(absl::StrCat("spawn ", argv[0]), err);
  return pid;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, absl::string_view input) {
  if (argv.empty()) return absl::InvalidArgumentError("run command: empty argv");
  const std::string name = argv[0];
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Errno(absl::StrCat("run ", name, ": pipe"), errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  // The input fits the pipe's buffer: written whole before the program runs.
  UniqueFd stdin_read;
  if (!input.empty()) {
    if (input.size() > 65536) {
      return absl::InvalidArgumentError(absl::StrCat("run ", name, ": input over 64 KiB"));
    }
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno(absl::StrCat("run ", name, ": pipe"), errno);
    stdin_read.Reset(fds[0]);
    UniqueFd stdin_write(fds[1]);
    if (write(stdin_write.get(), input.data(), input.size()) !=
        static_cast<ssize_t>(input.size())) {
      return Errno(absl::StrCat("run ", name, ": write input"), errno);
    }
  }

  SpawnOptions options;
  options.stdin_fd = stdin_read.valid() ? stdin_read.get() : kDevNull;
  options.stdout_fd = write_end.get();
  options.stderr_fd = write_end.get();
  absl::StatusOr<pid_t> spawned = Spawn(argv, options);
  if (!spawned.ok())
    return absl::Status(spawned.status().code(), absl::StrCat("run ", spawned.status().message()));
  const pid_t pid = *spawned;
  write_end.Reset();

  CommandResult result;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  char buf[4096];
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (result.output.size() < (1 << 20)) result.output.append(buf, static_cast<size_t>(n));
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(
        "run ", absl::StrJoin(argv, " "), ": no exit within ", absl::FormatDuration(timeout)));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string FindExecutable(absl::string_view name) {
  if (name.empty() || absl::StrContains(name, '/')) return "";
  std::string path = getenv("PATH") != nullptr ? getenv("PATH") : "";
  absl::StrAppend(&path, ":/usr/sbin:/usr/bin:/sbin:/bin");
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

absl::Status RunCommandOk(const std::vector<std::string>& argv, absl::Duration timeout) {
  absl::StatusOr<CommandResult> r = RunCommand(argv, timeout);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": exit status ",
                                            r->exit_code, ": ",
                                            absl::StripAsciiWhitespace(r->output)));
  }
  return absl::OkStatus();
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  // Asked for every container at every relist: one read, no error text.
  std::optional<std::string> stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"), 4096);
  if (!stat.has_value()) return 0;
  size_t close_paren = stat->rfind(')');
  if (close_paren == std::string::npos) return 0;
  // Fields after the command name start at field 3 (state).
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(close_paren + 2), ' ');
  if (fields.size() < 20) return 0;
  if (fields[0] == "Z" || fields[0] == "X") return 0;
  uint64_t start = 0;
  if (!absl::SimpleAtoi(fields[19], &start)) return 0;
  return start;
}

const std::string& CurrentBootId() {
  static const std::string* const boot_id = new std::string(std::string(
      absl::StripAsciiWhitespace(ReadFile("/proc/sys/kernel/random/boot_id", 128).value_or(""))));
  return *boot_id;
}

std::string ProcessName(pid_t pid) {
  if (pid <= 0) return "";
  return std::string(absl::StripTrailingAsciiWhitespace(
      ReadFile(absl::StrCat("/proc/", pid, "/comm"), 256).value_or("")));
}

bool ProcessIsAlive(pid_t pid, uint64_t start_time) {
  return start_time != 0 && ProcessStartTime(pid) == start_time;
}

absl::StatusOr<UniqueFd> OpenPidFd(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return absl::NotFoundError("open pidfd: no pid");
  UniqueFd fd(PidFdOpen(pid));
  if (!fd.valid()) {
    if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("open pidfd ", pid, ": gone"));
    return Errno(absl::StrCat("open pidfd ", pid), errno);
  }
  // Checked after opening: if the start time matches now, the pidfd refers
  // to the process we mean (a reused pid would have a later start time).
  if (!ProcessIsAlive(pid, start_time)) {
    return absl::NotFoundError(absl::StrCat("open pidfd ", pid, ": process has exited"));
  }
  return fd;
}

absl::Status SignalPidFd(const UniqueFd& pidfd, int signal) {
  if (syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0) {
    if (errno == ESRCH) return absl::OkStatus();  // already gone
    return Errno(absl::StrCat("send signal ", signal), errno);
  }
  return absl::OkStatus();
}

bool WaitPidFd(const UniqueFd& pidfd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    pollfd p{pidfd.get(), POLLIN, 0};
    int r =
        poll(&p, 1,
             static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    if (r > 0) return true;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return true;  // unusable pidfd: nothing to wait for
    if (absl::Now() >= deadline) return false;
  }
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view content,
                             Durability durability) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Errno(absl::StrCat("write ", path, ": open ", tmp), errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      unlink(tmp.c_str());
      return Errno(absl::StrCat("write ", tmp), err);
    }
    done += static_cast<size_t>(n);
  }
  if (durability == Durability::kDurable && fsync(fd.get()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Errno(absl::StrCat("fsync ", tmp), err);
  }
  fd.Reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Errno(absl::StrCat("rename ", tmp, " to ", path), err);
  }
  if (durability == Durability::kAtomic) return absl::OkStatus();
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = ".";
  UniqueFd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) fsync(dfd.get());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno(absl::StrCat("read ", path), errno);
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(absl::StrCat("read ", path), errno);
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return absl::OutOfRangeError(
          absl::StrCat("read ", path, ": larger than ", max_bytes, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::optional<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd;
  do {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return std::nullopt;
  UniqueFd owned(fd);
  std::string out(max_bytes + 1, '\0');
  ssize_t n;
  do {
    n = read(fd, out.data(), out.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0 || static_cast<size_t>(n) > max_bytes) return std::nullopt;
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno(absl::StrCat("remove ", path), errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Errno(absl::StrCat("remove ", path), errno);
    }
    return absl::OkStatus();
  }
  if (std::vector<std::string> mounts = MountRootsUnder(path); !mounts.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("remove ", path, ": a file system is still mounted at ", mounts[0]));
  }
  static thread_local int first_error = 0;
  first_error = 0;
  int r = nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int type, struct FTW*) -> int {
        int rc = (type == FTW_DP) ? rmdir(p) : unlink(p);
        if (rc != 0 && errno != ENOENT && first_error == 0) first_error = errno;
        return 0;
      },
      32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (r != 0) return Errno(absl::StrCat("remove ", path), errno);
  if (first_error != 0) return Errno(absl::StrCat("remove ", path), first_error);
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  // Usually the parent exists: one mkdir. Otherwise, from the deepest
  // existing ancestor down.
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
  if (errno != ENOENT) return Errno(absl::StrCat("create directory ", path), errno);
  std::string cur;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&cur, "/", part);
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return Errno(absl::StrCat("create directory ", cur), errno);
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> MountsUnder(const std::string& prefix) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string p = prefix;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (std::getline(in, line)) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() < 5) continue;
    std::string mp = UnescapeMountPath(f[4]);
    if (mp == p || absl::StartsWith(mp, p + "/")) out.push_back(mp);
  }
  return out;
}

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000  // Linux 5.8's uapi, where libc lacks it
#endif

namespace {

// Whether `path` (a symlink not followed) is the root of a mount, as statx
// says (STATX_ATTR_MOUNT_ROOT); false when it does not exist; nullopt when
// the kernel does not report the attribute or statx fails otherwise.
std::optional<bool> StatxMountRoot(const char* path) {
  struct statx stx;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return std::nullopt;
  }
  if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0) return std::nullopt;
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

bool IsListedMountPoint(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  for (const auto& m : MountsUnder(p)) {
    if (m == p) return true;
  }
  return false;
}

}  // namespace

bool IsMountPoint(const std::string& path) {
  std::optional<bool> root = StatxMountRoot(path.c_str());
  return root.has_value() ? *root : IsListedMountPoint(path);
}

std::vector<std::string> MountRootsUnder(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::optional<bool> top = StatxMountRoot(p.c_str());
  if (!top.has_value()) return MountsUnder(p);
  if (*top) return {p};
  struct stat st;
  if (lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
  // nftw's callback takes no context: this thread's walk's.
  static thread_local std::vector<std::string>* found = nullptr;
  static thread_local bool unknown = false;
  std::vector<std::string> out;
  found = &out;
  unknown = false;
  nftw(
      p.c_str(),
      [](const char* entry, const struct stat*, int type, struct FTW*) -> int {
        std::optional<bool> root = StatxMountRoot(entry);
        if (!root.has_value()) {
          unknown = true;
          return FTW_STOP;
        }
        if (!*root) return FTW_CONTINUE;
        found->push_back(entry);
        return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
      },
      32, FTW_PHYS | FTW_ACTIONRETVAL);
  found = nullptr;
  // An entry statx could not answer for: the mount table decides.
  if (unknown) return MountsUnder(p);
  return out;
}

std::string SelfExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

}  // namespace berth::runtime
