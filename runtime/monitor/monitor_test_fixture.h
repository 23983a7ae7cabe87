// Test fixture that runs the real berth-monitor binary against a fake runc.
//
// Each test starts the monitor through a small "reaper" process: a child
// subreaper that fork+execs the monitor command (the spawner, which detaches
// and exits at once) and then reaps everything reparented to it until it has
// no children left. So the real monitor is never the test's child, and
// nothing is left as a zombie whatever PID 1 does.
#ifndef BERTH_RUNTIME_MONITOR_MONITOR_TEST_FIXTURE_H_
#define BERTH_RUNTIME_MONITOR_MONITOR_TEST_FIXTURE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/monitor/monitor_test_util.h"
#include "tests/temp_dir.h"

namespace berth::monitor {

class MonitorTest : public ::testing::Test {
 protected:
  static constexpr char kId[] = "c1";

  // A temp dir with bundle/, root/ and the fake runc.
  void SetUp() override;
  // Kills whatever is left in the monitor's process group, reaps the reaper
  // and checks the monitor is gone (before dir_ removes the temp dir).
  void TearDown() override;

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  // The container's init script, run by /bin/sh.
  void SetInit(const std::string& script);
  // Every required flag, files under the temp dir.
  std::vector<std::string> RequiredArgs(int sync_fd) const;

  // Starts the monitor through the reaper and waits for the spawner (the
  // reaper's direct child) to exit: spawner_pid_, spawner_status_.
  void StartMonitor(const std::vector<std::string>& extra_args = {});
  // StartMonitor, then checks the spawner exited 0 and reads both sync lines
  // and the sync EOF; returns the container pid (-1 on failure).
  pid_t StartContainer(const std::vector<std::string>& extra_args = {});

  // The next sync line without its newline; "" on EOF or timeout.
  std::string ReadSyncLine();
  nlohmann::json ReadSyncJson();
  // Reads the monitor_pid line into monitor_pid_ and, with `go`, tells the
  // monitor to run runc create and checks it wrote its pid file.
  void ExpectMonitorPidLine(bool go = true);
  // Writes to the monitor over the sync socket; closes it.
  void SendSync(const std::string& text);
  void CloseSync();

  nlohmann::json WaitForExitFile(int timeout_ms = kTestWaitMs);
  // The monitor exits by itself and leaves no process behind.
  void ExpectMonitorExits();
  // Entries of the live log for one stream.
  std::vector<CriEntry> LogEntries(const std::string& stream) const;

  // Runs the binary in the foreground (for flag errors): wait status and
  // stderr text.
  static int RunMonitorDirectly(const std::vector<std::string>& args, std::string* stderr_text);

  testing::TempDir dir_{"berth-monitor-test"};
  pid_t spawner_pid_ = -1;
  int spawner_status_ = -1;
  pid_t monitor_pid_ = -1;
  pid_t reaper_pid_ = -1;

 private:
  [[noreturn]] static void RunReaper(const std::vector<char*>& argv, int sync_fd, int report_fd);
  bool WaitForReaper();

  int sync_fd_ = -1;  // the test's end of the sync socket
  std::string sync_buffer_;
};

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_MONITOR_TEST_FIXTURE_H_
