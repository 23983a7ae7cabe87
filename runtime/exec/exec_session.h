// One process run in a running container (`runc exec` in the foreground),
// with its standard streams as pipes or as a terminal, a timeout, and a
// cancel. Started by RuncRuntime::Exec, which checks the container and
// builds runc's command line; this class owns runc and what it starts.
//
// Nothing outlives the session: when the process ends, when the timeout
// passes, on Cancel and in the destructor, the exec'd process and its tree
// (ProcessTree: its session and its descendants) are SIGKILLed and runc is
// reaped. So a background child left by the command (`sleep 1000 &`) is
// killed when the command exits, unlike `docker exec`.
//
// Pipes: stdout and stderr are separate pipes read by Wait; stdin is a pipe
// when asked for (else /dev/null), closed by CloseStdin (EOF).
// TTY: a pseudo-terminal pair; runc runs in a session of its own with the
// slave as its controlling terminal (setsid, then opening the slave
// acquires it, as TIOCSCTTY would), puts it in raw mode and proxies it to
// the terminal it allocates in the container. Output (one stream, kStdout)
// and input go through the master; Resize sets the master's window size,
// the kernel sends runc SIGWINCH and runc resizes the container's terminal.
// runc sets the container's terminal size only once the process runs: a
// program that asks for it at once may still see 0x0 (as with `docker
// exec -t`).
//
// Threads: Wait runs in one thread; WriteStdin, CloseStdin and Resize in
// one other (an input thread); Cancel from any. The input thread must be
// done (joined) before the session is destroyed.
#ifndef BERTH_RUNTIME_EXEC_EXEC_SESSION_H_
#define BERTH_RUNTIME_EXEC_EXEC_SESSION_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/sys/unique_fd.h"

namespace berth::runtime {

struct ExecOptions {
  std::vector<std::string> args;  // args[0] looked up in the container's PATH
  std::vector<std::string> env;   // KEY=VALUE, added to the container's
  std::string working_dir;        // empty: the container's
  bool tty = false;
  bool open_stdin = false;  // else the process reads /dev/null (pipes)
  // The terminal's first size (tty only); 0 means 24 rows, 80 columns.
  uint16_t rows = 0;
  uint16_t cols = 0;
  // From the start; then the process tree is killed and Wait returns
  // kDeadlineExceeded.
  absl::Duration timeout = absl::InfiniteDuration();
};

enum class ExecStream { kStdout, kStderr };

class ExecSession {
 public:
  // How long killed processes and runc may take to go before that is an
  // error (after which runc's process group is SIGKILLed and reaped).
  static constexpr absl::Duration kCleanupTimeout = absl::Seconds(5);

  // Runs `runc_argv` (runc's `exec` command line, from oci::Runc::ExecArgv)
  // whose --pid-file is `pid_file` and --log is `runc_log`, with stdio as
  // `options` say. `work_dir`, when not empty, is a directory of the
  // session's own (holding those files) that the destructor removes.
  static absl::StatusOr<std::unique_ptr<ExecSession>> Start(
      const std::vector<std::string>& runc_argv, const ExecOptions& options, std::string pid_file,
      std::string runc_log, std::string work_dir);

  // Kills what is left (as Cancel) and removes the work dir.
  ~ExecSession();
  ExecSession(const ExecSession&) = delete;
  ExecSession& operator=(const ExecSession&) = delete;

  // Receives output in the order it is read; returns false to end the
  // session (a caller gone: then as Cancel).
  using OutputSink = std::function<bool(ExecStream stream, absl::string_view data)>;

  // Sends the output to `sink` until the process has exited and its output
  // is drained; once only. The process's exit code (128+signal when killed
  // by one). kDeadlineExceeded after the timeout, kCancelled after Cancel
  // or a sink's false; kFailedPrecondition (with runc's message) when runc
  // could not start the process (say, no such executable); kInternal when
  // the tree would not die.
  absl::StatusOr<int> Wait(const OutputSink& sink);

  // Writes all of `data` to the process's stdin (the terminal's input with
  // a TTY), waiting while it does not read; kFailedPrecondition when stdin
  // was not asked for or is closed, or the session has ended.
  absl::Status WriteStdin(absl::string_view data);
  // End of input: closes the pipe; with a TTY writes the terminal's EOF
  // character (^D), which ends a read in canonical mode.
  void CloseStdin();
  // The terminal's size (TTY only, else kFailedPrecondition).
  absl::Status Resize(uint16_t rows, uint16_t cols);
  // Ends the session: Wait kills the tree and returns kCancelled. Any
  // thread; idempotent.
  void Cancel();

  // The exec'd process's host pid, once runc has written it; 0 before.
  pid_t pid() const { return pid_.load(); }

 private:
  ExecSession() = default;

  enum class Outcome { kExited, kTimedOut, kCancelled };

  // Reads the pid file (once it exists) into pid_ and its start time.
  bool LoadPid();
  // Kills the exec'd tree (waiting, bounded, for the pid file while runc
  // runs) and reaps runc; its exit status in *status. Idempotent.
  absl::Status KillAndReap(bool kill_tree);
  // Reads one chunk from `fd` into the sink; false at EOF or error.
  bool Pump(int fd, ExecStream stream, const OutputSink& sink, bool* sink_done);
  // runc's own last error message, from its log.
  std::string RuncError() const;

  bool tty_ = false;
  absl::Time deadline_;
  std::string pid_file_;
  std::string runc_log_;
  std::string work_dir_;
  pid_t runc_pid_ = 0;
  UniqueFd runc_pidfd_;
  bool runc_reaped_ = false;
  int runc_status_ = 0;
  std::atomic<pid_t> pid_{0};
  uint64_t pid_start_time_ = 0;
  bool waited_ = false;

  UniqueFd out_;  // stdout pipe, or the terminal's master
  UniqueFd err_;  // stderr pipe (pipes only)
  absl::Mutex stdin_mu_;
  UniqueFd stdin_ ABSL_GUARDED_BY(stdin_mu_);  // pipe, or a dup of the master
  UniqueFd cancel_;                            // eventfd: Cancel was called
  UniqueFd done_;                              // eventfd: the session ended (wakes WriteStdin)
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_EXEC_EXEC_SESSION_H_
