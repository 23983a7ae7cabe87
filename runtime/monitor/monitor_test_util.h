// Helpers shared by the berth-monitor tests.
#ifndef BERTH_RUNTIME_MONITOR_MONITOR_TEST_UTIL_H_
#define BERTH_RUNTIME_MONITOR_MONITOR_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace berth::monitor {

// Default bound for every wait in the tests.
constexpr int kTestWaitMs = 5000;

// Polls `condition` every 10 ms for up to `timeout_ms`.
bool WaitFor(const std::function<bool()>& condition, int timeout_ms = kTestWaitMs);

// No such process (not even a zombie).
bool ProcessGone(pid_t pid);

bool Exists(const std::string& path);
// The whole file, or "" if it cannot be read.
std::string ReadWholeFile(const std::string& path);
// Fails the current test if the file cannot be written.
void WriteWholeFile(const std::string& path, const std::string& content);

// Field `index` (1-based, as in proc(5)) of /proc/PID/stat, or "".
std::string ProcStatField(pid_t pid, int index);
// The number on a "KEY: N kB" line of /proc/PID/status, or -1.
long ProcStatusKb(pid_t pid, const std::string& key);

struct CriEntry {
  std::string timestamp;
  std::string stream;
  std::string tag;
  std::string content;
};

// Parses a CRI log file; malformed lines fail the current test.
std::vector<CriEntry> ParseCriLog(const std::string& path);

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_MONITOR_TEST_UTIL_H_
