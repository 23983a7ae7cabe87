// The runc driver: the only code in the controller process that runs runc.
// (berth-monitor runs `runc create` itself, from CreateArgv, so that it
// becomes the container's parent.)
#ifndef BERTH_RUNTIME_OCI_RUNC_H_
#define BERTH_RUNTIME_OCI_RUNC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::runtime::oci {

struct RuncState {
  std::string id;
  std::string status;  // creating, created, running, paused, stopped
  int pid = 0;
};

// A process to run in a running container with `runc exec`.
struct ExecProcess {
  std::vector<std::string> args;  // args[0] looked up in the container's PATH
  std::vector<std::string> env;   // KEY=VALUE, added to the container's
  std::string cwd;                // empty: the container's
  bool tty = false;               // runc allocates the container's terminal
  std::string pid_file;           // absolute; runc writes the process's host pid
  std::string log_file;           // absolute; runc's own messages (JSON lines)
};

class Runc {
 public:
  // `binary`: absolute path of runc; `root`: its --root state directory,
  // owned by this Berth instance alone.
  Runc(std::string binary, std::string root, absl::Duration timeout = absl::Seconds(30));

  const std::string& binary() const { return binary_; }
  const std::string& root() const { return root_; }

  // Starts a created container the way `runc start` does, without the cost
  // of another runc process: reads the container's exec.fifo to its end
  // (which comes when the program has been exec'd) and removes it. Falls
  // back to `runc start` when the fifo is not where runc keeps it. `pid` and
  // `pid_start_time` name the container's init, watched so a dead one fails
  // fast. kAlreadyExists: the program was started before (by a start that
  // was interrupted before it was recorded).
  absl::Status Start(const std::string& id, int pid, uint64_t pid_start_time) const;
  // `all`: signal every process in the container's cgroup.
  absl::Status Kill(const std::string& id, int signal, bool all) const;
  // kNotFound when runc does not know the container.
  absl::Status Delete(const std::string& id, bool force) const;
  // Ids of every container in this root.
  absl::StatusOr<std::vector<RuncState>> List() const;
  // The command line of `runc exec` of `process` in the container `id`, in
  // the foreground: runc waits for the process and exits with its code
  // (128+signal when it was killed). Run by runtime/exec's ExecSession,
  // which owns that process and its stdio.
  std::vector<std::string> ExecArgv(const std::string& id, const ExecProcess& process) const;

 private:
  absl::Status Run(const std::string& action, const std::string& id, std::vector<std::string> args,
                   std::string* output) const;

  std::string binary_;
  std::string root_;
  absl::Duration timeout_;
};

// Finds runc on PATH (or /usr/sbin, /usr/bin); empty if absent.
std::string FindRunc();

}  // namespace berth::runtime::oci

#endif  // BERTH_RUNTIME_OCI_RUNC_H_
