#include "runtime/monitor/monitor_test_util.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"

namespace berth::monitor {

bool WaitFor(const std::function<bool()>& condition, int timeout_ms) {
  constexpr auto kStep = std::chrono::milliseconds(10);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kStep);
  }
  return true;
}

bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteWholeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  EXPECT_TRUE(out.good()) << "write " << path;
}

std::string ProcStatField(pid_t pid, int index) {
  const std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');  // comm may contain spaces.
  if (paren == std::string::npos || index < 3) return "";
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= index; ++i) {
    if (!(fields >> field)) return "";
  }
  return field;
}

long ProcStatusKb(pid_t pid, const std::string& key) {
  std::istringstream status(ReadWholeFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::stol(line.substr(key.size() + 1));
    }
  }
  return -1;
}

std::vector<CriEntry> ParseCriLog(const std::string& path) {
  static const std::regex kTimestamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
  std::vector<CriEntry> entries;
  std::istringstream log(ReadWholeFile(path));
  for (std::string line; std::getline(log, line);) {
    // Split by hand: std::regex recursion overflows on 16 KiB lines.
    const size_t a = line.find(' ');
    const size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
    const size_t c = b == std::string::npos ? b : line.find(' ', b + 1);
    if (c == std::string::npos) {
      ADD_FAILURE() << "malformed CRI line in " << path << ": " << line;
      continue;
    }
    CriEntry entry{line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1),
                   line.substr(c + 1)};
    EXPECT_TRUE(std::regex_match(entry.timestamp, kTimestamp)) << line;
    EXPECT_TRUE(entry.stream == "stdout" || entry.stream == "stderr") << line;
    EXPECT_TRUE(entry.tag == "F" || entry.tag == "P") << line;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace berth::monitor
