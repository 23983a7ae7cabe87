// The per-container monitor, after it has detached from its spawner.
//
// Sync protocol on --sync-fd, a stream socket (one line per message):
//   {"monitor_pid":N}   monitor -> spawner, first;
//   go                  spawner -> monitor: the bundle is ready; write the
//                       monitor pid file, open the log and run `runc create`.
//                       EOF (or anything else) instead: the spawner gave up;
//                       the monitor exits 1, having written and run nothing.
//                       The spawner prepares the bundle meanwhile, so the
//                       monitor's start costs a create no time;
//   {"pid":N}           monitor -> spawner: runc create succeeded, N is the
//                       container pid;
//   {"error":"..."}     setup or runc create failed (this can also be the
//                       first line, if the monitor cannot detach from its
//                       spawner); the monitor exits 1 without an exit file.
// The sync fd is closed after the "pid" or "error" line. EOF without either
// means the monitor died (e.g. its process group was killed).
//
// Exit file (written atomically once the container init is reaped):
//   {"exit_code":C,"signal":S,"oom_killed":B,"finished_at":"RFC3339Nano",
//    "finished_at_unix_nano":N}
#ifndef BERTH_RUNTIME_MONITOR_MONITOR_H_
#define BERTH_RUNTIME_MONITOR_MONITOR_H_

#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <string>
#include <vector>

#include "runtime/monitor/cri_log_writer.h"
#include "runtime/monitor/monitor_options.h"
#include "runtime/monitor/sys_util.h"

namespace berth::monitor {

class Monitor {
 public:
  // How long runc kill --all may take before the monitor gives up on it.
  static constexpr int kKillAllTimeoutMs = 10000;
  // How long the pipes are drained after the container exits.
  static constexpr int kDrainTimeoutMs = 2000;
  // How long writing the exit file is retried (a full state directory, say,
  // until space is freed): the exit code exists nowhere else.
  static constexpr int kExitFileRetryMs = 120000;
  static constexpr int kExitFileRetryMaxDelayMs = 1000;

  // `sync_fd` is owned by the monitor from now on.
  Monitor(const MonitorOptions& options, int sync_fd);
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Runs the container to completion; returns the monitor's exit code.
  int Run();

 private:
  enum Pipe { kStdoutPipe = 0, kStderrPipe = 1, kNumPipes = 2 };

  // A child reaped before the container pid was known.
  struct EarlyExit {
    pid_t pid;
    int status;
    struct timespec at;
  };

  // Setup and runc create; on failure sends an error line and returns false.
  // For recovery: the monitor of a container whose record lacks it.
  bool WriteMonitorPidFile(std::string* error);
  bool SetUpEvents(std::string* error);
  // Blocks until the spawner's "go" line; false on EOF or anything else.
  bool AwaitGo(std::string* error);
  bool StartRuncCreate(std::string* error);
  bool AwaitRuncCreate();
  bool ReadContainerPid(std::string* error);
  // The container init must be the monitor's child (or already reaped).
  bool CheckContainerIsChild(std::string* error);

  // After a successful create.
  void AwaitContainerExit();
  void KillAllContainerProcesses();
  void DrainPipes();
  bool ReadOomKilled() const;
  bool WriteExitFile();

  void SendSyncLine(const std::string& json);
  void SendSyncError(const std::string& message);

  // Event loop: waits up to `timeout_ms` (-1: forever) for one round of
  // SIGCHLD and pipe events and handles them.
  void PollOnce(int timeout_ms);
  // Polls until `*done` or until `timeout_ms` passed; false on timeout.
  bool PollUntil(const bool* done, int timeout_ms);
  void ReapChildren();
  // Reaps every child left, waiting up to the drain timeout.
  void ReapRemainingChildren();
  void RecordExit(pid_t pid, int status);
  // Reads once from a pipe into the log; false when nothing was read (EOF,
  // error or EAGAIN). EOF and errors close the pipe.
  bool ReadPipe(Pipe pipe);
  // Reads what is already buffered in the pipes without blocking.
  void ReadAvailable();
  void ClosePipe(Pipe pipe);
  bool AnyPipeOpen() const;

  const MonitorOptions options_;
  UniqueFd sync_fd_;
  CriLogWriter log_writer_;
  CriLineSplitter splitters_[kNumPipes];
  UniqueFd pipes_[kNumPipes];
  UniqueFd signal_fd_;

  pid_t runc_pid_ = -1;
  int runc_status_ = 0;
  bool runc_done_ = false;

  pid_t kill_pid_ = -1;
  bool kill_done_ = false;

  pid_t container_pid_ = -1;
  int container_status_ = 0;
  bool container_done_ = false;
  struct timespec finished_at_ = {};

  std::vector<EarlyExit> early_exits_;
  bool keep_stderr_tail_ = true;  // Only while runc create runs.
  std::string stderr_tail_;
};

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_MONITOR_H_
