// RuncRuntime::Exec: a process in a running container, through `runc exec`
// run by an ExecSession; and the end, at Open, of sessions a crash left.
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/exec/process_tree.h"
#include "runtime/names.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::runtime {

absl::StatusOr<std::unique_ptr<ExecSession>> RuncRuntime::Exec(const std::string& id,
                                                               const ExecOptions& options) {
  if (absl::Status s = ValidateContainerId(id); !s.ok()) return s;
  if (options.args.empty() || options.args[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat("exec in container ", id, ": no command"));
  }
  absl::StatusOr<ContainerStatus> st = ReadState(id);
  if (!st.ok()) {
    return absl::Status(st.status().code(),
                        absl::StrCat("exec in container ", id, ": ", st.status().message()));
  }
  if (st->state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("exec in container ", id, ": it is ", ContainerStateName(st->state),
                     st->reason.empty() ? "" : " (", st->reason, st->reason.empty() ? "" : ")",
                     ", not running"));
  }
  std::string dir = store_.ContainerDir(id) + "/exec.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("exec in container ", id, ": mkdtemp"));
  }
  oci::ExecProcess process;
  process.args = options.args;
  process.env = options.env;
  if (options.tty) {
    bool has_term = false;
    for (const std::string& e : options.env) has_term = has_term || absl::StartsWith(e, "TERM=");
    if (!has_term) process.env.push_back("TERM=xterm");
  }
  process.cwd = options.working_dir;
  process.tty = options.tty;
  process.pid_file = dir + "/pid";
  process.log_file = dir + "/runc.log";
  absl::StatusOr<std::unique_ptr<ExecSession>> session = ExecSession::Start(
      runc_.ExecArgv(id, process), options, process.pid_file, process.log_file, dir);
  if (!session.ok()) {
    RemoveTree(dir).IgnoreError();
    return absl::Status(session.status().code(),
                        absl::StrCat("exec in container ", id, ": ", session.status().message()));
  }
  return session;
}

void RuncRuntime::EndOrphanedExecs(const std::string& id, const ContainerRecord& record) {
  const std::string dir = store_.ContainerDir(id);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> sessions;
  while (struct dirent* e = readdir(d)) {
    if (absl::StartsWith(e->d_name, "exec.")) sessions.push_back(dir + "/" + e->d_name);
  }
  closedir(d);
  for (const std::string& session : sessions) {
    absl::StatusOr<std::string> content = ReadFile(session + "/pid", 64);
    pid_t pid = 0;
    if (content.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*content), &pid) && pid > 0) {
      // Only what is still in the container's cgroup: the pid may be reused.
      const auto in_container = [&](pid_t p) {
        absl::StatusOr<std::string> cgroups = ReadFile(absl::StrCat("/proc/", p, "/cgroup"));
        return cgroups.ok() && absl::StrContains(*cgroups, record.cgroups_path + "\n");
      };
      const absl::Time deadline = absl::Now() + options_.cleanup_timeout;
      for (;;) {
        std::vector<pid_t> tree = ProcessTree(pid, 0);
        tree.erase(
            std::remove_if(tree.begin(), tree.end(), [&](pid_t p) { return !in_container(p); }),
            tree.end());
        if (tree.empty()) break;
        if (absl::Now() >= deadline) {
          recovery_.errors.push_back(
              absl::StrCat("end exec ", session, ": ", tree.size(), " processes still alive"));
          break;
        }
        for (pid_t p : tree) kill(p, SIGKILL);
        absl::SleepFor(absl::Milliseconds(5));
      }
      spdlog::info("recovery: container {}: ended exec process {} left by an earlier run", id, pid);
    }
    if (absl::Status s = RemoveTree(session); !s.ok()) recovery_.errors.push_back(s.ToString());
  }
}

}  // namespace berth::runtime
