// Parsing of the CRI container log format berth-monitor writes
// (runtime/monitor/cri_log_writer.h), one entry per line:
//   <RFC3339Nano UTC> <stdout|stderr> <F|P> <content>
// and the joining of P (partial) entries into whole lines, as kubelet does.
#ifndef BERTH_RUNTIME_LOGS_LOG_PARSER_H_
#define BERTH_RUNTIME_LOGS_LOG_PARSER_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::runtime::logs {

enum class LogStream { kStdout, kStderr };
const char* LogStreamName(LogStream stream);  // "stdout" / "stderr"

// One entry of a log file, its trailing newline removed.
struct LogEntry {
  absl::Time time;
  absl::string_view timestamp;  // as written (RFC3339Nano)
  LogStream stream = LogStream::kStdout;
  bool partial = false;  // P: the line continues in the stream's next entry
  absl::string_view content;
};

// Parses `line` (without its newline) into `*entry`, whose views point into
// `line`. False for anything not in the format (a bad timestamp, an unknown
// stream or tag, a missing separator); the content may be empty.
bool ParseLogEntry(absl::string_view line, LogEntry* entry);

// A whole line of a container's output.
struct LogLine {
  absl::Time time;        // of its last entry (when its end was written)
  std::string timestamp;  // that entry's timestamp as written
  LogStream stream = LogStream::kStdout;
  std::string content;  // without the newline
  // The line has no end yet: its P entries were the last of the stream
  // when the reading stopped (only from LineJoiner::Flush).
  bool partial = false;
};

// Appends `line` as `berthctl logs` and the API print it: "<timestamp> "
// first when `timestamps`, then the content and a newline (none after a
// partial line).
void AppendFormatted(const LogLine& line, bool timestamps, std::string* out);

// Joins each stream's P entries with the F entry that ends them into one
// LogLine; the streams are joined separately (an stderr entry between two
// pieces of an stdout line is a line of its own). Not thread-safe.
class LineJoiner {
 public:
  using Sink = std::function<void(LogLine)>;
  explicit LineJoiner(Sink sink) : sink_(std::move(sink)) {}

  void Add(const LogEntry& entry);
  // Emits the pieces still waiting for their end, as partial lines, stdout
  // first.
  void Flush();
  // Drops the pieces still waiting (a truncated file starts over).
  void Reset();

 private:
  Sink sink_;
  LogLine pending_[2];
  bool has_pending_[2] = {false, false};
};

}  // namespace berth::runtime::logs

#endif  // BERTH_RUNTIME_LOGS_LOG_PARSER_H_
