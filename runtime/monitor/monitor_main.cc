// berth-monitor: the per-container monitor (see monitor.h for the protocol).
// A small static binary: plain syscalls, no iostream, abseil or JSON library.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include <string>

#include "runtime/monitor/monitor.h"
#include "runtime/monitor/monitor_options.h"
#include "runtime/monitor/process_util.h"
#include "runtime/monitor/sys_util.h"

namespace {

constexpr int kUsageExitCode = 2;

void PrintError(const std::string& message) {
  fprintf(stderr, "berth-monitor: %s\n", message.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using berth::monitor::MonitorOptions;
  MonitorOptions options;
  std::string error;
  if (!berth::monitor::ParseMonitorOptions(argc, argv, &options, &error)) {
    PrintError(error);
    fputs(berth::monitor::MonitorUsage(), stderr);
    return kUsageExitCode;
  }
  if (fcntl(options.sync_fd, F_GETFD) < 0) {
    PrintError(berth::monitor::ErrnoMessage("check", "--sync-fd " + std::to_string(options.sync_fd),
                                            errno));
    return kUsageExitCode;
  }
  int sync_fd = options.sync_fd;
  fflush(stderr);
  if (!berth::monitor::DetachFromSpawner(&sync_fd, &error)) {
    PrintError(error);  // Only reaches the spawner if stdio is not moved yet.
    const std::string line = "{\"error\":\"" + berth::monitor::JsonEscape(error) + "\"}\n";
    berth::monitor::WriteAll(sync_fd, line.data(), line.size());
    return 1;
  }
  berth::monitor::Monitor monitor(options, sync_fd);
  return monitor.Run();
}
