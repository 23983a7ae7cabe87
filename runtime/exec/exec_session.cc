#include "runtime/exec/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/exec/process_tree.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace berth::runtime {
namespace {

absl::Status Errno(absl::string_view action, int err) {
  return absl::ErrnoToStatus(err, absl::StrCat("exec: ", action));
}

// A pipe whose both ends are close-on-exec; the parent's end non-blocking.
absl::Status MakePipe(UniqueFd* read_end, UniqueFd* write_end, bool parent_reads) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe", errno);
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  const int parent = parent_reads ? fds[0] : fds[1];
  if (fcntl(parent, F_SETFL, O_NONBLOCK) != 0) return Errno("pipe", errno);
  return absl::OkStatus();
}

void Signal(const UniqueFd& eventfd) {
  const uint64_t one = 1;
  if (write(eventfd.get(), &one, sizeof one) < 0) {
    // An eventfd only fails to count past 2^64-2: it is signalled anyway.
  }
}

constexpr absl::Duration kPidFilePoll = absl::Milliseconds(10);

int PollTimeoutMs(absl::Time until) {
  if (until == absl::InfiniteFuture()) return -1;
  const absl::Duration left = std::max(until - absl::Now(), absl::ZeroDuration());
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 60 * 60 * 1000));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExecSession>> ExecSession::Start(
    const std::vector<std::string>& runc_argv, const ExecOptions& options, std::string pid_file,
    std::string runc_log, std::string work_dir) {
  if (runc_argv.empty()) return absl::InvalidArgumentError("exec: empty runc command line");
  auto s = std::unique_ptr<ExecSession>(new ExecSession());
  s->tty_ = options.tty;
  s->pid_file_ = std::move(pid_file);
  s->runc_log_ = std::move(runc_log);
  s->work_dir_ = std::move(work_dir);  // removed by the destructor from here on
  s->runc_reaped_ = true;              // nothing to reap until the spawn
  s->cancel_.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  s->done_.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->cancel_.valid() || !s->done_.valid()) return Errno("eventfd", errno);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&] { posix_spawn_file_actions_destroy(&actions); };
  // The child's ends, closed here once runc has them.
  UniqueFd child_out, child_err, child_in;
  std::string slave;
  if (options.tty) {
    UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master.valid() || grantpt(master.get()) != 0 || unlockpt(master.get()) != 0) {
      return Errno("open a pseudo-terminal", errno);
    }
    char name[128];
    if (ptsname_r(master.get(), name, sizeof name) != 0) return Errno("ptsname", errno);
    slave = name;
    struct winsize ws = {};
    ws.ws_row = options.rows != 0 ? options.rows : 24;
    ws.ws_col = options.cols != 0 ? options.cols : 80;
    if (ioctl(master.get(), TIOCSWINSZ, &ws) != 0) return Errno("set the terminal size", errno);
    if (fcntl(master.get(), F_SETFL, O_NONBLOCK) != 0) return Errno("pseudo-terminal", errno);
    if (options.open_stdin) {
      absl::MutexLock l(&s->stdin_mu_);
      s->stdin_.Reset(fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
      if (!s->stdin_.valid()) return Errno("dup", errno);
    }
    s->out_ = std::move(master);
    // Without O_NOCTTY, after the spawn's setsid: the slave becomes runc's
    // controlling terminal.
    posix_spawn_file_actions_addopen(&actions, 0, slave.c_str(), O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&actions, 0, 1);
    posix_spawn_file_actions_adddup2(&actions, 0, 2);
  } else {
    if (absl::Status st = MakePipe(&s->out_, &child_out, true); !st.ok()) return st;
    if (absl::Status st = MakePipe(&s->err_, &child_err, true); !st.ok()) return st;
    posix_spawn_file_actions_adddup2(&actions, child_out.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, child_err.get(), 2);
    if (options.open_stdin) {
      absl::MutexLock l(&s->stdin_mu_);
      if (absl::Status st = MakePipe(&child_in, &s->stdin_, false); !st.ok()) return st;
      posix_spawn_file_actions_adddup2(&actions, child_in.get(), 0);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    }
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  absl::Cleanup destroy_attr = [&] { posix_spawnattr_destroy(&attr); };
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  // A session (and process group) of its own: with a TTY it is needed for
  // the controlling terminal; always, so that runc's group can be killed.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> cargv;
  for (const std::string& a : runc_argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = -1;
  if (int err = posix_spawn(&pid, runc_argv[0].c_str(), &actions, &attr, cargv.data(), environ);
      err != 0) {
    return Errno(absl::StrCat("spawn ", runc_argv[0]), err);
  }
  s->runc_pid_ = pid;
  s->runc_reaped_ = false;
  s->runc_pidfd_.Reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!s->runc_pidfd_.valid()) {
    const int err = errno;
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    s->runc_reaped_ = true;
    return Errno("pidfd_open", err);
  }
  s->deadline_ = options.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                             : absl::Now() + options.timeout;
  return s;
}

ExecSession::~ExecSession() {
  Signal(done_);
  if (!runc_reaped_) {
    if (absl::Status s = KillAndReap(/*kill_tree=*/true); !s.ok()) {
      spdlog::error("{}", s.ToString());
    }
  }
  if (!work_dir_.empty()) {
    if (absl::Status s = RemoveTree(work_dir_); !s.ok()) spdlog::warn("exec: {}", s.ToString());
  }
}

bool ExecSession::LoadPid() {
  if (pid_.load() != 0) return true;
  absl::StatusOr<std::string> content = ReadFile(pid_file_, 64);
  pid_t pid = 0;
  if (!content.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*content), &pid) || pid <= 0) {
    return false;  // not yet written (runc writes it whole, then renames)
  }
  pid_start_time_ = ProcessStartTime(pid);
  pid_.store(pid);
  return true;
}

absl::Status ExecSession::KillAndReap(bool kill_tree) {
  absl::Status result;
  if (kill_tree) {
    // runc writes the pid file right after the process starts: wait for it
    // while runc lives (killing runc alone would leave the process).
    const absl::Time deadline = absl::Now() + kCleanupTimeout;
    while (!LoadPid() && !runc_reaped_ && absl::Now() < deadline) {
      pollfd p{runc_pidfd_.get(), POLLIN, 0};
      if (poll(&p, 1, 10) > 0) {
        LoadPid();  // written before runc exited, if at all
        break;
      }
    }
    if (pid_.load() != 0) {
      result = KillProcessTree(pid_.load(), pid_start_time_, kCleanupTimeout);
    }
  }
  if (!runc_reaped_) {
    if (!WaitPidFd(runc_pidfd_, kCleanupTimeout)) {
      kill(-runc_pid_, SIGKILL);  // its process group: runc and runc init
      if (result.ok()) {
        result = absl::InternalError(absl::StrCat("exec: runc (pid ", runc_pid_, ") still ran ",
                                                  absl::FormatDuration(kCleanupTimeout),
                                                  " after its process was killed"));
      }
    }
    int status = 0;
    while (waitpid(runc_pid_, &status, 0) < 0 && errno == EINTR) {
    }
    runc_status_ = status;
    runc_reaped_ = true;
  }
  return result;
}

bool ExecSession::Pump(int fd, ExecStream stream, const OutputSink& sink, bool* sink_done) {
  char buf[32 * 1024];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    if (!sink(stream, absl::string_view(buf, static_cast<size_t>(n)))) *sink_done = true;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  return false;  // EOF, or EIO: the terminal's last user is gone
}

std::string ExecSession::RuncError() const {
  absl::StatusOr<std::string> log = ReadFile(runc_log_, 1 << 20);
  std::string msg;
  if (!log.ok()) return msg;
  for (absl::string_view line : absl::StrSplit(*log, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("level", "") == "error") msg = j.value("msg", "");
  }
  return msg;
}

absl::StatusOr<int> ExecSession::Wait(const OutputSink& sink) {
  if (waited_) return absl::FailedPreconditionError("exec: the session was waited for already");
  waited_ = true;
  absl::Cleanup signal_done = [this] { Signal(done_); };
  Outcome outcome = Outcome::kExited;
  bool sink_done = false;
  bool out_open = out_.valid(), err_open = err_.valid();
  absl::Time drain_deadline = absl::InfiniteFuture();
  absl::Status kill_error;
  // The process's own exit, seen through a pidfd once its pid is known:
  // runc copies the process's output (a pipe or its terminal) and waits
  // for whatever still holds it, so what the process left running is
  // killed then, not when runc exits.
  UniqueFd process_fd;
  bool process_exited = false;
  while (true) {
    if (runc_reaped_ && !out_open && !err_open) break;
    if (absl::Now() >= drain_deadline) break;  // something escaped the kill and holds a pipe
    if (!runc_reaped_ && absl::Now() >= deadline_) {
      outcome = Outcome::kTimedOut;
      break;
    }
    if (!process_exited && !process_fd.valid() && LoadPid()) {
      absl::StatusOr<UniqueFd> fd = OpenPidFd(pid_.load(), pid_start_time_);
      if (fd.ok()) {
        process_fd = *std::move(fd);
      } else {
        process_exited = true;  // gone already
        if (absl::Status s = KillProcessTree(pid_.load(), pid_start_time_, kCleanupTimeout);
            !s.ok()) {
          kill_error = s;
        }
      }
    }
    pollfd p[5];
    int n = 0;
    const int cancel_i = n;
    p[n++] = {cancel_.get(), POLLIN, 0};
    const int out_i = out_open ? n : -1;
    if (out_open) p[n++] = {out_.get(), POLLIN, 0};
    const int err_i = err_open ? n : -1;
    if (err_open) p[n++] = {err_.get(), POLLIN, 0};
    const int runc_i = !runc_reaped_ ? n : -1;
    if (!runc_reaped_) p[n++] = {runc_pidfd_.get(), POLLIN, 0};
    const int process_i = process_fd.valid() ? n : -1;
    if (process_fd.valid()) p[n++] = {process_fd.get(), POLLIN, 0};
    absl::Time wake = runc_reaped_ ? drain_deadline : deadline_;
    // Until runc has written the pid file: look again every 10 ms.
    if (pid_.load() == 0 && !runc_reaped_) wake = std::min(wake, absl::Now() + kPidFilePoll);
    const int r = poll(p, n, PollTimeoutMs(wake));
    if (r < 0 && errno != EINTR) return Errno("poll", errno);
    if (r <= 0) continue;
    if (p[cancel_i].revents != 0) {
      outcome = Outcome::kCancelled;
      break;
    }
    if (out_i >= 0 && p[out_i].revents != 0) {
      out_open = Pump(out_.get(), ExecStream::kStdout, sink, &sink_done);
    }
    if (err_i >= 0 && p[err_i].revents != 0) {
      err_open = Pump(err_.get(), ExecStream::kStderr, sink, &sink_done);
    }
    if (sink_done) {
      outcome = Outcome::kCancelled;
      break;
    }
    if (process_i >= 0 && p[process_i].revents != 0) {
      process_exited = true;
      process_fd.Reset();
      if (absl::Status s = KillProcessTree(pid_.load(), pid_start_time_, kCleanupTimeout);
          !s.ok()) {
        kill_error = s;
      }
    }
    if (runc_i >= 0 && p[runc_i].revents != 0) {
      // runc has ended, so has the process: kill what is left, which may
      // hold the pipes, then drain them.
      if (absl::Status s = KillAndReap(/*kill_tree=*/true); !s.ok()) kill_error = s;
      drain_deadline = absl::Now() + kCleanupTimeout;
    }
  }
  if (outcome != Outcome::kExited) {
    if (absl::Status s = KillAndReap(/*kill_tree=*/true); !s.ok()) return s;
    return outcome == Outcome::kTimedOut ? absl::DeadlineExceededError("exec: timed out")
                                         : absl::CancelledError("exec: cancelled");
  }
  if (!kill_error.ok()) return kill_error;
  if (pid_.load() == 0) {
    std::string msg = RuncError();
    if (msg.empty()) msg = "no message";
    return absl::FailedPreconditionError(
        absl::StrCat("exec: runc could not start the process: ", msg));
  }
  if (WIFEXITED(runc_status_)) return WEXITSTATUS(runc_status_);
  return 128 + WTERMSIG(runc_status_);
}

absl::Status ExecSession::WriteStdin(absl::string_view data) {
  absl::MutexLock l(&stdin_mu_);
  if (!stdin_.valid()) return absl::FailedPreconditionError("exec: stdin is not open");
  // A reader gone must be EPIPE here, not a SIGPIPE for the whole process.
  sigset_t pipe_set, old_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE);
  absl::Status result;
  while (!data.empty()) {
    const ssize_t n = write(stdin_.get(), data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p[3] = {
          {stdin_.get(), POLLOUT, 0}, {done_.get(), POLLIN, 0}, {cancel_.get(), POLLIN, 0}};
      if (poll(p, 3, -1) > 0 && (p[1].revents != 0 || p[2].revents != 0)) {
        result = absl::FailedPreconditionError("exec: the session has ended");
        break;
      }
      continue;
    }
    result = absl::FailedPreconditionError(
        absl::StrCat("exec: write stdin: ", n < 0 ? strerror(errno) : "nothing written"));
    if (n < 0 && errno == EPIPE && !was_pending) {
      const struct timespec zero = {0, 0};
      sigtimedwait(&pipe_set, nullptr, &zero);
    }
    break;
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  return result;
}

void ExecSession::CloseStdin() {
  absl::MutexLock l(&stdin_mu_);
  if (!stdin_.valid()) return;
  if (tty_) {
    const char eof = 0x04;  // ^D, VEOF of a terminal in its default settings
    if (write(stdin_.get(), &eof, 1) < 0) {
      // The terminal is gone: there is nobody left to tell.
    }
  }
  stdin_.Reset();
}

absl::Status ExecSession::Resize(uint16_t rows, uint16_t cols) {
  if (!tty_) return absl::FailedPreconditionError("exec: resize without a terminal");
  struct winsize ws = {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (ioctl(out_.get(), TIOCSWINSZ, &ws) != 0) return Errno("set the terminal size", errno);
  return absl::OkStatus();
}

void ExecSession::Cancel() { Signal(cancel_); }

}  // namespace berth::runtime
