#include "runtime/network/plugin_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"

extern char** environ;

namespace berth::runtime::network {
namespace {

constexpr size_t kMaxStream = 1 << 20;

absl::Status Errno(const std::string& what, int err) { return absl::ErrnoToStatus(err, what); }

// The caller's environment with `env` set over it.
std::vector<std::string> MergedEnv(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = strchr(*e, '=');
    if (eq == nullptr || env.count(std::string(*e, eq - *e)) != 0) continue;
    out.emplace_back(*e);
  }
  for (const auto& [k, v] : env) out.push_back(absl::StrCat(k, "=", v));
  return out;
}

// A memfd holding `input`, positioned at its start: a plugin's stdin of any
// size, written before it runs.
absl::StatusOr<UniqueFd> InputFd(absl::string_view input) {
  UniqueFd fd(memfd_create("cni-stdin", MFD_CLOEXEC));
  if (!fd.valid()) return Errno("memfd_create", errno);
  size_t done = 0;
  while (done < input.size()) {
    ssize_t n = write(fd.get(), input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("write plugin input", errno);
    done += static_cast<size_t>(n);
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return Errno("seek plugin input", errno);
  return fd;
}

}  // namespace

absl::StatusOr<PluginOutput> RunPlugin(const std::string& path,
                                       const std::map<std::string, std::string>& env,
                                       absl::string_view input, absl::Duration timeout) {
  absl::StatusOr<UniqueFd> in = InputFd(input);
  if (!in.ok()) return in.status();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe", errno);
  UniqueFd out_read(fds[0]), out_write(fds[1]);
  if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe", errno);
  UniqueFd err_read(fds[0]), err_write(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in->get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own, killed at the end
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  const std::vector<std::string> env_strings = MergedEnv(env);
  std::vector<char*> envp;
  for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = -1;
  const int err = posix_spawn(&pid, path.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Errno(absl::StrCat("run ", path), err);
  out_write.Reset();
  err_write.Reset();
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  PluginOutput result;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  std::string* texts[] = {&result.stdout_text, &result.stderr_text};
  UniqueFd* streams[] = {&out_read, &err_read};
  char buf[8192];
  // Reads what is there: kData, kEmpty (nothing now) or kEnd (the end of
  // the stream, or an error).
  enum Read { kData, kEmpty, kEnd };
  auto drain = [&](int i) {
    const ssize_t got = read(streams[i]->get(), buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return kEmpty;
    if (got <= 0) return kEnd;
    if (texts[i]->size() < kMaxStream) texts[i]->append(buf, static_cast<size_t>(got));
    return kData;
  };
  // Until the plugin has exited and its streams are read; a process it left
  // holding them open does not hold the call up.
  bool exited = false;
  while (!exited && (out_read.valid() || err_read.valid() || pidfd.valid())) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    pollfd p[3];
    int which[3];
    int n = 0;
    for (int i = 0; i < 2; ++i) {
      if (!streams[i]->valid()) continue;
      p[n] = {streams[i]->get(), POLLIN, 0};
      which[n++] = i;
    }
    if (pidfd.valid()) {
      p[n] = {pidfd.get(), POLLIN, 0};
      which[n++] = 2;
    }
    const int r = poll(p, n, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("poll", errno);
    for (int i = 0; i < n; ++i) {
      if (p[i].revents == 0) continue;
      if (which[i] == 2) {
        exited = true;
      } else if (drain(which[i]) == kEnd) {
        streams[which[i]]->Reset();
      }
    }
  }
  if (exited) {
    // Everything it wrote is in the pipes now.
    for (int i = 0; i < 2; ++i) {
      if (!streams[i]->valid()) continue;
      fcntl(streams[i]->get(), F_SETFL, O_NONBLOCK);
      for (int rounds = 0; rounds < 1024 && drain(i) == kData; ++rounds) {
      }
    }
  }
  // The plugin is exited (a zombie, its pid and group id still reserved) or
  // timed out: whatever is left of its group goes now.
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // The rest of the group dies asynchronously: wait (bounded) until no
  // process is left in it (the group id cannot be reused before then).
  for (int i = 0; i < 2000 && kill(-pid, 0) == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("run ", path, ": no exit within ", absl::FormatDuration(timeout), "; killed"));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace berth::runtime::network
