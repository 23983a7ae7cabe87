// CRI container log files for berth-monitor.
//
// Each entry is one line:
//   <RFC3339Nano UTC> <stdout|stderr> <F|P> <content>\n
// F ends a line of output, P is a piece of a line that continues in the next
// entry. The live file is capped: a write that would take it over the cap
// first rotates FILE -> FILE.1 -> ... -> FILE.<max_files-1> (the oldest is
// dropped), or truncates FILE when max_files is 1.
#ifndef BERTH_RUNTIME_MONITOR_CRI_LOG_WRITER_H_
#define BERTH_RUNTIME_MONITOR_CRI_LOG_WRITER_H_

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "runtime/monitor/sys_util.h"

namespace berth::monitor {

enum class LogStream { kStdout, kStderr };

// Buffers entries and appends them to the live log file, rotating it so it
// never exceeds max_bytes (unless max_bytes is smaller than an entry header).
// Write errors drop the data: the container must keep running regardless.
class CriLogWriter {
 public:
  CriLogWriter(std::string path, int64_t max_bytes, int max_files);
  CriLogWriter(const CriLogWriter&) = delete;
  CriLogWriter& operator=(const CriLogWriter&) = delete;

  // Opens (creates) the live file with O_APPEND, mode 0640.
  bool Open(std::string* error);

  // Queues one entry. Content longer than the cap allows is split into P
  // entries, the last piece keeping `partial`.
  void AddEntry(const std::string& timestamp, LogStream stream, bool partial, const char* data,
                size_t size);

  // Writes queued entries to the live file.
  void Flush();

 private:
  void AppendEntry(const std::string& timestamp, LogStream stream, bool partial, const char* data,
                   size_t size);
  void Rotate();
  bool OpenLive();
  std::string RotatedPath(int index) const;

  const std::string path_;
  const int64_t max_bytes_;
  const int max_files_;
  UniqueFd fd_;
  int64_t live_size_ = 0;  // Bytes in the live file, pending_ excluded.
  std::string pending_;
};

// Turns one stream's bytes into CRI entries: F for each complete line
// (newline removed), P for each max_line_bytes piece of a longer line.
class CriLineSplitter {
 public:
  static constexpr size_t kMaxLineBytes = 16 * 1024;

  CriLineSplitter(LogStream stream, CriLogWriter* writer, size_t max_line_bytes = kMaxLineBytes);

  // Feeds bytes read from the stream; `timestamp` stamps entries they end.
  void Consume(const std::string& timestamp, const char* data, size_t size);

  // End of stream: a dangling unterminated line is written with F.
  void Finish(const std::string& timestamp);

 private:
  void AppendSegment(const std::string& timestamp, const char* data, size_t size);

  const LogStream stream_;
  CriLogWriter* const writer_;
  const size_t max_line_bytes_;
  std::string line_;
};

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_CRI_LOG_WRITER_H_
