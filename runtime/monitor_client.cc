#include "runtime/monitor_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {

using nlohmann::json;

class SyncReader {
 public:
  explicit SyncReader(UniqueFd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }

  absl::StatusOr<json> ReadLine(absl::Time deadline) {
    while (true) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        json j = json::parse(buf_.substr(0, nl), nullptr, false);
        buf_.erase(0, nl + 1);
        if (j.is_discarded() || !j.is_object()) {
          return absl::InternalError("monitor sent a malformed sync message");
        }
        return j;
      }
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError("no answer from the monitor in time");
      }
      pollfd p{fd_.get(), POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "poll monitor sync socket");
      if (r <= 0) continue;
      char chunk[1024];
      ssize_t n = read(fd_.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::ErrnoToStatus(errno, "read monitor sync socket");
      if (n == 0) return absl::InternalError("monitor exited without reporting");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  UniqueFd fd_;
  std::string buf_;
};

namespace {

// Fields of the monitor's sync messages; 0 / "" when absent or mistyped.
int IntField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}
std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string DefaultMonitorPath() {
  std::string beside = SelfExeDir() + "/berth-monitor";
  if (access(beside.c_str(), X_OK) == 0) return beside;
  return BERTH_DEFAULT_MONITOR_PATH;
}

std::vector<std::string> MonitorArgv(const std::string& binary, const ContainerSpec& spec,
                                     const StateStore& store, const oci::Runc& runc,
                                     const std::string& cgroups_path,
                                     const std::string& overlay_options) {
  const std::string& id = spec.id;
  std::vector<std::string> argv = {binary,
                                   "--id",
                                   id,
                                   "--bundle",
                                   store.BundleDir(id),
                                   "--runc",
                                   runc.binary(),
                                   "--runc-root",
                                   runc.root(),
                                   "--pid-file",
                                   store.PidFile(id),
                                   "--exit-file",
                                   store.ExitFile(id),
                                   "--log-file",
                                   store.LogFile(id),
                                   "--monitor-pid-file",
                                   store.MonitorPidFile(id),
                                   "--sync-fd",
                                   "3",
                                   "--log-max-bytes",
                                   std::to_string(spec.log_max_bytes),
                                   "--log-max-files",
                                   std::to_string(spec.log_max_files)};
  if (std::string oom = OomEventsFile(cgroups_path); !oom.empty()) {
    argv.insert(argv.end(), {"--oom-file", oom});
  }
  if (spec.host_pid) argv.push_back("--kill-all");
  if (!overlay_options.empty()) {
    argv.insert(argv.end(), {"--overlay-rootfs", store.RootfsDir(id), "--overlay-options",
                             overlay_options});
  }
  return argv;
}

std::string MonitorIdOf(pid_t pid) {
  if (pid <= 0) return "";
  absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"), 1 << 16);
  if (!cmdline.ok()) return "";
  std::vector<absl::string_view> args = absl::StrSplit(*cmdline, '\0');
  if (args.empty() || !absl::EndsWith(args[0], "berth-monitor")) return "";
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--id") return std::string(args[i + 1]);
  }
  return "";
}

uint64_t MonitorStartTimeIfOurs(pid_t pid, const std::string& id) {
  if (id.empty() || MonitorIdOf(pid) != id) return 0;
  return ProcessStartTime(pid);
}

absl::StatusOr<MonitorLaunch> MonitorLaunch::Start(const std::vector<std::string>& argv) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair");
  }
  UniqueFd ours(fds[0]), theirs(fds[1]);
  SpawnOptions options;
  options.stderr_fd = kInherit;  // the monitor's own early errors
  options.fd3 = theirs.get();
  absl::StatusOr<pid_t> pid = runtime::Spawn(argv, options);
  if (!pid.ok()) return pid.status();
  return MonitorLaunch(argv[0], *pid, std::move(ours));
}

MonitorLaunch::MonitorLaunch(std::string binary, pid_t spawner, UniqueFd fd)
    : binary_(std::move(binary)),
      spawner_(spawner),
      sync_(std::make_unique<SyncReader>(std::move(fd))) {}

MonitorLaunch::MonitorLaunch(MonitorLaunch&& other) noexcept
    : binary_(std::move(other.binary_)),
      spawner_(std::exchange(other.spawner_, 0)),
      sync_(std::move(other.sync_)),
      monitor_pid_(other.monitor_pid_) {}

MonitorLaunch::~MonitorLaunch() { ReapSpawner().IgnoreError(); }

absl::StatusOr<pid_t> MonitorLaunch::Hello(absl::Time deadline) {
  if (monitor_pid_ != 0) return monitor_pid_;
  if (absl::Status s = ReapSpawner(); !s.ok()) return s;
  absl::StatusOr<json> hello = sync_->ReadLine(deadline);
  if (!hello.ok()) return hello.status();
  if (std::string error = StringField(*hello, "error"); !error.empty()) {
    return absl::InternalError(error);
  }
  monitor_pid_ = IntField(*hello, "monitor_pid");
  if (monitor_pid_ <= 0) return absl::InternalError("monitor sent no pid");
  return monitor_pid_;
}

void MonitorLaunch::Go() {
  static constexpr char kGo[] = "go\n";
  if (send(sync_->fd(), kGo, sizeof kGo - 1, MSG_NOSIGNAL) < 0) {
    spdlog::debug("tell monitor {} to go: {}", monitor_pid_, std::strerror(errno));
  }
}

absl::StatusOr<pid_t> MonitorLaunch::Created(absl::Time deadline) {
  absl::StatusOr<json> created = sync_->ReadLine(deadline);
  if (!created.ok()) return created.status();
  if (std::string error = StringField(*created, "error"); !error.empty()) {
    return absl::InternalError(error);
  }
  return IntField(*created, "pid");
}

absl::Status MonitorLaunch::ReapSpawner() {
  if (spawner_ == 0) return absl::OkStatus();
  int status = 0;
  while (waitpid(spawner_, &status, 0) < 0 && errno == EINTR) {
  }
  spawner_ = 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(binary_, " failed to start: status ", status));
  }
  return absl::OkStatus();
}

}  // namespace berth::runtime
