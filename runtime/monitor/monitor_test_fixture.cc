#include "runtime/monitor/monitor_test_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <utility>

namespace berth::monitor {
namespace {

using ::nlohmann::json;

// The fake runc. `create` starts BUNDLE/init.sh in the background with its
// stdio inherited (so it writes into the monitor's pipes), writes its pid and
// exits 0. Like runc's exec fifo, a gate holds the init until the fake runc
// has exited (EOF on a fifo only runc holds open for writing); otherwise the
// shell could reap an init that exits at once, which real runc never does.
//   BUNDLE/fail          create prints "creating container ID: <content>" to
//                        stderr and exits 1;
//   BUNDLE/hang          create writes its pid to DIR/runc.pid, never ends;
//   BUNDLE/pid-override  written to the pid file instead of the init's pid.
// `kill` appends to DIR/kill-marker and kills the pid in ROOT/extra.pid.
// Every call is appended to DIR/runc-calls.
constexpr char kFakeRunc[] = R"SH(#!/bin/sh
echo "$*" >> '@DIR@/runc-calls'
if [ "$1" = --root ]; then root=$2; shift 2; fi
cmd=$1; shift
case "$cmd" in
create)
  while [ $# -gt 0 ]; do
    case "$1" in
      --bundle) bundle=$2; shift 2 ;;
      --pid-file) pid_file=$2; shift 2 ;;
      *) id=$1; shift ;;
    esac
  done
  if [ -f "$bundle/hang" ]; then
    echo $$ > '@DIR@/runc.pid'
    exec sleep 30
  fi
  if [ -f "$bundle/fail" ]; then
    echo "creating container $id: $(cat "$bundle/fail")" >&2
    exit 1
  fi
  gate="$root/gate.$$"
  mkfifo "$gate"
  exec 4<>"$gate" 5<"$gate"
  sh -c 'exec 4>&-; rm -f "$1"; read -r _ <&5; exec 5<&-; exec sh "$2"' \
    gate "$gate" "$bundle/init.sh" &
  if [ -f "$bundle/pid-override" ]; then
    cat "$bundle/pid-override" > "$pid_file"
  else
    echo $! > "$pid_file"
  fi
  exit 0 ;;
kill)
  echo "kill $*" >> '@DIR@/kill-marker'
  if [ -f "$root/extra.pid" ]; then kill -9 "$(cat "$root/extra.pid")"; fi
  exit 0 ;;
esac
echo "fake runc: unknown command $cmd" >&2
exit 2
)SH";

std::string FakeRuncScript(const std::string& dir) {
  std::string script = kFakeRunc;
  const std::string placeholder = "@DIR@";
  for (size_t at; (at = script.find(placeholder)) != std::string::npos;) {
    script.replace(at, placeholder.size(), dir);
  }
  return script;
}

std::vector<char*> CArgv(std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (std::string& arg : argv) cargv.push_back(arg.data());
  cargv.push_back(nullptr);
  return cargv;
}

// Waits up to `deadline` for `fd` to be readable.
bool PollReadable(int fd, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  struct pollfd pfd = {fd, POLLIN, 0};
  return left.count() > 0 && poll(&pfd, 1, left.count()) > 0;
}

// Reads exactly `size` bytes within kTestWaitMs.
bool ReadExactly(int fd, void* data, size_t size) {
  char* out = static_cast<char*>(data);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTestWaitMs);
  while (size > 0) {
    if (!PollReadable(fd, deadline)) return false;
    ssize_t n = read(fd, out, size);
    if (n <= 0) return false;
    out += n;
    size -= n;
  }
  return true;
}

}  // namespace

void MonitorTest::SetUp() {
  ASSERT_EQ(mkdir(Path("bundle").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(Path("root").c_str(), 0755), 0);
  WriteWholeFile(Path("runc"), FakeRuncScript(dir_.path()));
  ASSERT_EQ(chmod(Path("runc").c_str(), 0755), 0);
}

void MonitorTest::TearDown() {
  // The monitor's group holds runc and the container processes too.
  if (monitor_pid_ > 0) kill(-monitor_pid_, SIGKILL);
  if (reaper_pid_ > 0 && !WaitForReaper()) {
    kill(reaper_pid_, SIGKILL);
    waitpid(reaper_pid_, nullptr, 0);
  }
  if (monitor_pid_ > 0) {
    EXPECT_TRUE(ProcessGone(monitor_pid_)) << "monitor " << monitor_pid_;
  }
  if (sync_fd_ >= 0) close(sync_fd_);
}

void MonitorTest::SetInit(const std::string& script) {
  WriteWholeFile(Path("bundle/init.sh"), script);
}

std::vector<std::string> MonitorTest::RequiredArgs(int sync_fd) const {
  const std::pair<const char*, std::string> flags[] = {
      {"--id", kId},
      {"--bundle", Path("bundle")},
      {"--runc", Path("runc")},
      {"--runc-root", Path("root")},
      {"--pid-file", Path("container.pid")},
      {"--exit-file", Path("exit.json")},
      {"--log-file", Path("ctr.log")},
      {"--monitor-pid-file", Path("monitor.pid")},
      {"--sync-fd", std::to_string(sync_fd)},
  };
  std::vector<std::string> args;
  for (const auto& [name, value] : flags) {
    args.push_back(name);
    args.push_back(value);
  }
  return args;
}

void MonitorTest::StartMonitor(const std::vector<std::string>& extra_args) {
  int sync[2];
  int report[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync), 0);
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  std::vector<std::string> argv = RequiredArgs(sync[1]);
  argv.insert(argv.begin(), BERTH_MONITOR_PATH);
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const std::vector<char*> cargv = CArgv(argv);

  reaper_pid_ = fork();
  ASSERT_GE(reaper_pid_, 0);
  if (reaper_pid_ == 0) {
    close(sync[0]);  // or the monitor never sees the test close its end
    RunReaper(cargv, sync[1], report[1]);
  }
  close(sync[1]);
  close(report[1]);
  sync_fd_ = sync[0];
  int spawner[2] = {-1, -1};
  const bool reported = ReadExactly(report[0], spawner, sizeof(spawner));
  close(report[0]);
  ASSERT_TRUE(reported) << "the spawner did not exit within " << kTestWaitMs << " ms";
  spawner_pid_ = spawner[0];
  spawner_status_ = spawner[1];
}

void MonitorTest::RunReaper(const std::vector<char*>& argv, int sync_fd, int report_fd) {
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t spawner = fork();
  if (spawner == 0) {
    fcntl(sync_fd, F_SETFD, 0);  // The monitor inherits the sync fd.
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(sync_fd);
  int status = 0;
  while (waitpid(spawner, &status, 0) < 0 && errno == EINTR) {
  }
  int report[2] = {spawner, status};
  (void)!write(report_fd, report, sizeof(report));
  close(report_fd);
  // The monitor (and anything it leaves behind) is reparented here.
  while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  _exit(0);
}

pid_t MonitorTest::StartContainer(const std::vector<std::string>& extra_args) {
  StartMonitor(extra_args);
  EXPECT_TRUE(WIFEXITED(spawner_status_) && WEXITSTATUS(spawner_status_) == 0)
      << "spawner status " << spawner_status_;
  ExpectMonitorPidLine();
  json second = ReadSyncJson();
  if (!second.contains("pid")) {
    ADD_FAILURE() << "expected a pid line, got " << second.dump();
    return -1;
  }
  const pid_t pid = second["pid"].get<pid_t>();
  EXPECT_EQ(ReadWholeFile(Path("container.pid")), std::to_string(pid) + "\n");
  EXPECT_EQ(ReadSyncLine(), "") << "the sync fd must be closed after pid";
  return pid;
}

std::string MonitorTest::ReadSyncLine() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTestWaitMs);
  size_t newline;
  while ((newline = sync_buffer_.find('\n')) == std::string::npos) {
    if (!PollReadable(sync_fd_, deadline)) return "";
    char buf[512];
    ssize_t n = read(sync_fd_, buf, sizeof(buf));
    if (n <= 0) return "";
    sync_buffer_.append(buf, n);
  }
  std::string line = sync_buffer_.substr(0, newline);
  sync_buffer_.erase(0, newline + 1);
  return line;
}

json MonitorTest::ReadSyncJson() {
  const std::string line = ReadSyncLine();
  if (line.empty()) {
    ADD_FAILURE() << "no sync line within " << kTestWaitMs << " ms";
    return json::object();
  }
  return json::parse(line);
}

void MonitorTest::ExpectMonitorPidLine(bool go) {
  json first = ReadSyncJson();
  ASSERT_TRUE(first.contains("monitor_pid")) << first.dump();
  monitor_pid_ = first["monitor_pid"].get<pid_t>();
  if (!go) return;
  SendSync("go\n");
  EXPECT_TRUE(WaitFor([&] {
    return ReadWholeFile(Path("monitor.pid")) == std::to_string(monitor_pid_);
  })) << "monitor pid file: "
      << ReadWholeFile(Path("monitor.pid"));
}

void MonitorTest::SendSync(const std::string& text) {
  ASSERT_EQ(send(sync_fd_, text.data(), text.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(text.size()));
}

void MonitorTest::CloseSync() {
  ASSERT_EQ(close(sync_fd_), 0);
  sync_fd_ = -1;
}

json MonitorTest::WaitForExitFile(int timeout_ms) {
  if (!WaitFor([&] { return Exists(Path("exit.json")); }, timeout_ms)) {
    ADD_FAILURE() << "no exit file within " << timeout_ms << " ms";
    return json::object();
  }
  return json::parse(ReadWholeFile(Path("exit.json")));
}

bool MonitorTest::WaitForReaper() {
  return WaitFor([&] { return waitpid(reaper_pid_, nullptr, WNOHANG) == reaper_pid_; });
}

void MonitorTest::ExpectMonitorExits() {
  ASSERT_GT(monitor_pid_, 0);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(monitor_pid_); }))
      << "monitor " << monitor_pid_ << " still running";
  ASSERT_TRUE(WaitForReaper()) << "processes left under the reaper";
  reaper_pid_ = -1;
}

std::vector<CriEntry> MonitorTest::LogEntries(const std::string& stream) const {
  std::vector<CriEntry> out;
  for (const CriEntry& entry : ParseCriLog(Path("ctr.log"))) {
    if (entry.stream == stream) out.push_back(entry);
  }
  return out;
}

int MonitorTest::RunMonitorDirectly(const std::vector<std::string>& args,
                                    std::string* stderr_text) {
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return -1;
  std::vector<std::string> argv = args;
  argv.insert(argv.begin(), BERTH_MONITOR_PATH);
  const std::vector<char*> cargv = CArgv(argv);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err_pipe[1], STDERR_FILENO);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(err_pipe[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTestWaitMs);
  char buf[4096];
  ssize_t n = 0;
  while (PollReadable(err_pipe[0], deadline) && (n = read(err_pipe[0], buf, sizeof(buf))) > 0) {
    stderr_text->append(buf, n);
  }
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace berth::monitor
