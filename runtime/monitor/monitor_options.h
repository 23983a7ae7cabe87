// Command line of berth-monitor. Every flag is "--name value" except the
// boolean --kill-all.
#ifndef BERTH_RUNTIME_MONITOR_MONITOR_OPTIONS_H_
#define BERTH_RUNTIME_MONITOR_MONITOR_OPTIONS_H_

#include <stdint.h>

#include <string>

namespace berth::monitor {

struct MonitorOptions {
  // Required.
  std::string id;                // runc container id.
  std::string bundle;            // OCI bundle directory.
  std::string runc;              // runc binary.
  std::string runc_root;         // runc --root.
  std::string pid_file;          // runc writes the container pid here.
  std::string exit_file;         // JSON exit record, written once.
  std::string log_file;          // Live CRI log file.
  std::string monitor_pid_file;  // The monitor's own pid.
  int sync_fd = -1;              // Inherited pipe write end.

  // Optional.
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_max_files = 2;  // Including the live file; 1 truncates instead.
  std::string oom_file;   // cgroup memory.oom_control or memory.events.
  bool kill_all = false;  // Host PID namespace: runc kill --all on exit.
  // Both or neither: `runc create` runs in a mount namespace of its own
  // (a slave of the monitor's) where an overlay with these mount options is
  // mounted on `overlay_rootfs` first. The container's namespace is copied
  // from it, so the node's mount table never holds the overlay.
  std::string overlay_rootfs;
  std::string overlay_options;
};

// Parses argv[1..argc-1]. On failure returns false and sets `error` to a
// one-line message naming the offending flag.
bool ParseMonitorOptions(int argc, const char* const* argv, MonitorOptions* options,
                         std::string* error);

// Multi-line usage text, ending in a newline.
const char* MonitorUsage();

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_MONITOR_OPTIONS_H_
