#include "runtime/monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/monitor/process_util.h"

namespace berth::monitor {
namespace {

// runc's stderr kept for the create error message.
constexpr size_t kStderrTailBytes = 4096;
// Children remembered while the container pid is still unknown.
constexpr size_t kMaxEarlyExits = 64;
// Reads per pipe when taking what is already buffered.
constexpr int kMaxBufferedReads = 64;
// After SIGKILL to a stuck runc kill, how long to wait to reap it.
constexpr int kKilledChildReapMs = 200;

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

bool MakePipe(UniqueFd* read_end, UniqueFd* write_end, const char* name, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = ErrnoMessage("create", std::string(name) + " pipe", errno);
    return false;
  }
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  // Only the monitor's end is non-blocking; the container's stays blocking.
  int flags = fcntl(fds[0], F_GETFL);
  if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
    *error = ErrnoMessage("set non-blocking", std::string(name) + " pipe", errno);
    return false;
  }
  return true;
}

}  // namespace

Monitor::Monitor(const MonitorOptions& options, int sync_fd)
    : options_(options),
      sync_fd_(sync_fd),
      log_writer_(options.log_file, options.log_max_bytes, options.log_max_files),
      splitters_{CriLineSplitter(LogStream::kStdout, &log_writer_),
                 CriLineSplitter(LogStream::kStderr, &log_writer_)} {}

int Monitor::Run() {
  // Nothing is written and nothing started before "go": a monitor whose
  // spawner gave up, or died, leaves nothing behind.
  SendSyncLine("{\"monitor_pid\":" + std::to_string(getpid()) + "}");
  std::string error;
  if (!AwaitGo(&error) || !WriteMonitorPidFile(&error) || !SetUpEvents(&error) ||
      !StartRuncCreate(&error)) {
    SendSyncError(error);
    return 1;
  }
  if (!AwaitRuncCreate()) return 1;
  if (!ReadContainerPid(&error)) {
    SendSyncError(error);
    return 1;
  }
  SendSyncLine("{\"pid\":" + std::to_string(container_pid_) + "}");
  sync_fd_.Reset();

  AwaitContainerExit();
  if (options_.kill_all) KillAllContainerProcesses();
  DrainPipes();
  ReapRemainingChildren();
  return WriteExitFile() ? 0 : 1;
}

bool Monitor::WriteMonitorPidFile(std::string* error) {
  return WriteFileAtomic(options_.monitor_pid_file, std::to_string(getpid()), "monitor pid file",
                         /*durable=*/false, error);
}

bool Monitor::SetUpEvents(std::string* error) {
  if (!log_writer_.Open(error)) return false;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  if (sigprocmask(SIG_SETMASK, &mask, nullptr) != 0) {
    *error = ErrnoMessage("block", "SIGCHLD", errno);
    return false;
  }
  signal_fd_.Reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd_.valid()) {
    *error = ErrnoMessage("create", "SIGCHLD signalfd", errno);
    return false;
  }
  return true;
}

bool Monitor::AwaitGo(std::string* error) {
  // Byte by byte, so that nothing after the line is consumed.
  std::string line;
  while (line.size() < 16) {
    char c;
    const ssize_t n = read(sync_fd_.get(), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = ErrnoMessage("read", "go from the sync fd", errno);
      return false;
    }
    if (n == 0) break;
    if (c == '\n') {
      if (line == "go") return true;
      break;
    }
    line.push_back(c);
  }
  // On EOF the spawner gave up and reads nothing more; the error is for a
  // spawner that sent something else.
  *error = "expected \"go\" on the sync fd, got \"" + line + "\"" + (line.size() < 16 ? "" : "...");
  return false;
}

bool Monitor::StartRuncCreate(std::string* error) {
  UniqueFd stdout_write;
  UniqueFd stderr_write;
  if (!MakePipe(&pipes_[kStdoutPipe], &stdout_write, "stdout", error) ||
      !MakePipe(&pipes_[kStderrPipe], &stderr_write, "stderr", error)) {
    return false;
  }
  const std::vector<std::string> argv = {options_.runc, "--root",          options_.runc_root,
                                         "create",      "--bundle",        options_.bundle,
                                         "--pid-file",  options_.pid_file, options_.id};
  ChildOverlay overlay{options_.overlay_rootfs, options_.overlay_options};
  if (!SpawnChild(argv, stdout_write.get(), stderr_write.get(), &runc_pid_, error,
                  overlay.target.empty() ? nullptr : &overlay)) {
    *error = "runc create: " + *error;
    return false;
  }
  return true;  // The write ends close here: only runc holds them now.
}

bool Monitor::AwaitRuncCreate() {
  PollUntil(&runc_done_, -1);
  ReadAvailable();  // What runc wrote before exiting is in the pipes now.
  keep_stderr_tail_ = false;
  if (WIFEXITED(runc_status_) && WEXITSTATUS(runc_status_) == 0) return true;
  std::string message = "runc create: " + DescribeWaitStatus(runc_status_);
  const std::string text = TrimWhitespace(stderr_tail_);
  if (!text.empty()) message += ": " + text;
  log_writer_.Flush();
  SendSyncError(message);
  return false;
}

bool Monitor::ReadContainerPid(std::string* error) {
  std::string content;
  if (!ReadSmallFile(options_.pid_file, 64, &content, error)) {
    *error = "read container pid file: " + *error;
    return false;
  }
  int64_t pid = 0;
  if (!ParseInt64(TrimWhitespace(content).c_str(), &pid) || pid <= 0 || pid > INT_MAX) {
    *error = "parse container pid file " + options_.pid_file + ": \"" + TrimWhitespace(content) +
             "\" is not a pid";
    return false;
  }
  container_pid_ = static_cast<pid_t>(pid);
  for (const EarlyExit& exit : early_exits_) {
    if (exit.pid != container_pid_) continue;
    container_status_ = exit.status;
    finished_at_ = exit.at;
    container_done_ = true;
  }
  early_exits_.clear();
  return container_done_ || CheckContainerIsChild(error);
}

bool Monitor::CheckContainerIsChild(std::string* error) {
  int status = 0;
  pid_t reaped;
  do {
    reaped = waitpid(container_pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == container_pid_) {
    RecordExit(reaped, status);
    return true;
  }
  if (reaped == 0) return true;  // Alive, and ours to wait for.
  // Not our child: its exit could never be observed, so fail now rather
  // than wait forever.
  *error = ErrnoMessage("wait for container process",
                        std::to_string(container_pid_) + " from " + options_.pid_file, errno);
  return false;
}

void Monitor::AwaitContainerExit() { PollUntil(&container_done_, -1); }

void Monitor::KillAllContainerProcesses() {
  const std::vector<std::string> argv = {
      options_.runc, "--root", options_.runc_root, "kill", "--all", options_.id, "KILL"};
  std::string error;
  if (!SpawnChild(argv, -1, -1, &kill_pid_, &error)) return;  // Nobody to tell.
  if (PollUntil(&kill_done_, kKillAllTimeoutMs)) return;
  kill(kill_pid_, SIGKILL);
  PollUntil(&kill_done_, kKilledChildReapMs);
}

void Monitor::DrainPipes() {
  const int64_t deadline = MonotonicMillis() + kDrainTimeoutMs;
  while (AnyPipeOpen()) {
    const int64_t remaining = deadline - MonotonicMillis();
    if (remaining <= 0) break;
    PollOnce(static_cast<int>(remaining));
  }
  // Someone else still holds a pipe: keep what was read, as complete lines.
  const std::string now = FormatRfc3339Nano(RealtimeNow());
  for (CriLineSplitter& splitter : splitters_) splitter.Finish(now);
  log_writer_.Flush();
}

bool Monitor::ReadOomKilled() const {
  if (options_.oom_file.empty()) return false;
  std::string content;
  std::string error;
  if (!ReadSmallFile(options_.oom_file, 4096, &content, &error)) return false;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    const std::string line = content.substr(start, end - start);
    start = end + 1;
    static const char kKey[] = "oom_kill ";
    if (line.compare(0, sizeof(kKey) - 1, kKey) != 0) continue;
    int64_t count = 0;
    return ParseInt64(TrimWhitespace(line.substr(sizeof(kKey) - 1)).c_str(), &count) && count > 0;
  }
  return false;
}

bool Monitor::WriteExitFile() {
  int exit_code = WEXITSTATUS(container_status_);
  int signal = 0;
  if (WIFSIGNALED(container_status_)) {
    signal = WTERMSIG(container_status_);
    exit_code = 128 + signal;
  }
  char json[256];
  snprintf(json, sizeof(json),
           "{\"exit_code\":%d,\"signal\":%d,\"oom_killed\":%s,"
           "\"finished_at\":\"%s\",\"finished_at_unix_nano\":%lld}\n",
           exit_code, signal, ReadOomKilled() ? "true" : "false",
           FormatRfc3339Nano(finished_at_).c_str(),
           static_cast<long long>(UnixNanos(finished_at_)));
  // A failed write (ENOSPC on a full state directory, EIO) is tried again,
  // with growing pauses, for a bounded time: meanwhile berthd sees the
  // container exiting, and the exit code is recorded once space is freed
  // rather than lost.
  const int64_t deadline = MonotonicMillis() + kExitFileRetryMs;
  int delay_ms = 10;
  for (;;) {
    std::string error;
    if (WriteFileAtomic(options_.exit_file, json, "exit file", /*durable=*/true, &error)) {
      return true;
    }
    const int64_t left = deadline - MonotonicMillis();
    if (left <= 0) {
      fprintf(stderr, "berth-monitor: %s; giving up\n", error.c_str());
      return false;
    }
    const int64_t pause = delay_ms < left ? delay_ms : left;
    struct timespec ts = {static_cast<time_t>(pause / 1000), static_cast<long>(pause % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    delay_ms = delay_ms * 2 < kExitFileRetryMaxDelayMs ? delay_ms * 2 : kExitFileRetryMaxDelayMs;
  }
}

void Monitor::SendSyncLine(const std::string& json) {
  if (!sync_fd_.valid()) return;
  const std::string line = json + "\n";
  // EPIPE (SIGPIPE is ignored) just means the spawner is gone.
  WriteAll(sync_fd_.get(), line.data(), line.size());
}

void Monitor::SendSyncError(const std::string& message) {
  SendSyncLine("{\"error\":\"" + JsonEscape(message) + "\"}");
  sync_fd_.Reset();
}

void Monitor::PollOnce(int timeout_ms) {
  struct pollfd fds[1 + kNumPipes];
  Pipe polled[kNumPipes];
  nfds_t count = 0;
  fds[count++] = {signal_fd_.get(), POLLIN, 0};
  for (Pipe pipe : {kStdoutPipe, kStderrPipe}) {
    if (!pipes_[pipe].valid()) continue;
    polled[count - 1] = pipe;
    fds[count++] = {pipes_[pipe].get(), POLLIN, 0};
  }
  // Timeout and EINTR both return to the caller, which re-checks its state.
  if (poll(fds, count, timeout_ms) <= 0) return;
  if (fds[0].revents != 0) {
    struct signalfd_siginfo info[8];
    while (read(signal_fd_.get(), info, sizeof(info)) > 0) {
    }
    ReapChildren();
  }
  for (nfds_t i = 1; i < count; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ReadPipe(polled[i - 1]);
    }
  }
}

bool Monitor::PollUntil(const bool* done, int timeout_ms) {
  if (timeout_ms < 0) {
    while (!*done) PollOnce(-1);
    return true;
  }
  const int64_t deadline = MonotonicMillis() + timeout_ms;
  while (!*done) {
    const int64_t remaining = deadline - MonotonicMillis();
    if (remaining <= 0) return false;
    PollOnce(static_cast<int>(remaining));
  }
  return true;
}

void Monitor::ReapRemainingChildren() {
  // Processes the container left behind were reparented to this subreaper;
  // reap them before going, so none is left a zombie of an init that may
  // not reap.
  const int64_t deadline = MonotonicMillis() + kDrainTimeoutMs;
  while (true) {
    ReapChildren();
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) return;
    const int64_t remaining = deadline - MonotonicMillis();
    if (remaining <= 0) return;
    PollOnce(static_cast<int>(remaining));
  }
}

void Monitor::ReapChildren() {
  while (true) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      RecordExit(pid, status);
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return;  // 0: nothing more to reap; ECHILD: no children at all.
  }
}

void Monitor::RecordExit(pid_t pid, int status) {
  if (pid == runc_pid_ && !runc_done_) {
    runc_status_ = status;
    runc_done_ = true;
  } else if (pid == kill_pid_ && !kill_done_) {
    kill_done_ = true;
  } else if (container_pid_ < 0) {
    // Before the pid file is read the container init may already be gone.
    if (early_exits_.size() >= kMaxEarlyExits) {
      early_exits_.erase(early_exits_.begin());
    }
    early_exits_.push_back({pid, status, RealtimeNow()});
  } else if (pid == container_pid_ && !container_done_) {
    container_status_ = status;
    finished_at_ = RealtimeNow();
    container_done_ = true;
  }
  // Anything else is an orphaned grandchild: reaping it was the point.
}

bool Monitor::ReadPipe(Pipe pipe) {
  static char buffer[32 * 1024];
  ssize_t n;
  do {
    n = read(pipes_[pipe].get(), buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return false;
  if (n <= 0) {
    ClosePipe(pipe);
    return false;
  }
  const size_t size = static_cast<size_t>(n);
  if (keep_stderr_tail_ && pipe == kStderrPipe) {
    stderr_tail_.append(buffer, size);
    if (stderr_tail_.size() > kStderrTailBytes) {
      stderr_tail_.erase(0, stderr_tail_.size() - kStderrTailBytes);
    }
  }
  splitters_[pipe].Consume(FormatRfc3339Nano(RealtimeNow()), buffer, size);
  log_writer_.Flush();
  return true;
}

void Monitor::ReadAvailable() {
  for (Pipe pipe : {kStdoutPipe, kStderrPipe}) {
    for (int i = 0; i < kMaxBufferedReads && pipes_[pipe].valid(); ++i) {
      if (!ReadPipe(pipe)) break;
    }
  }
}

void Monitor::ClosePipe(Pipe pipe) {
  splitters_[pipe].Finish(FormatRfc3339Nano(RealtimeNow()));
  log_writer_.Flush();
  pipes_[pipe].Reset();
}

bool Monitor::AnyPipeOpen() const {
  return pipes_[kStdoutPipe].valid() || pipes_[kStderrPipe].valid();
}

}  // namespace berth::monitor
