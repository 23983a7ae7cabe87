// RuncRuntime::Exec: a process in a running container, through `runc exec`
// run by an ExecSession.
#include <stdlib.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/names.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"

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

}  // namespace berth::runtime
