#include "runtime/logs/log_parser.h"

#include <utility>

#include "absl/strings/strip.h"

namespace berth::runtime::logs {

const char* LogStreamName(LogStream stream) {
  return stream == LogStream::kStdout ? "stdout" : "stderr";
}

bool ParseLogEntry(absl::string_view line, LogEntry* entry) {
  const size_t ts_end = line.find(' ');
  if (ts_end == absl::string_view::npos || ts_end == 0) return false;
  const absl::string_view timestamp = line.substr(0, ts_end);
  absl::string_view rest = line.substr(ts_end + 1);
  if (absl::ConsumePrefix(&rest, "stdout ")) {
    entry->stream = LogStream::kStdout;
  } else if (absl::ConsumePrefix(&rest, "stderr ")) {
    entry->stream = LogStream::kStderr;
  } else {
    return false;
  }
  if (rest.empty() || (rest[0] != 'F' && rest[0] != 'P')) return false;
  entry->partial = rest[0] == 'P';
  rest.remove_prefix(1);
  // "<tag> <content>"; an empty content may lose its separator.
  if (!rest.empty() && !absl::ConsumePrefix(&rest, " ")) return false;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, timestamp, &entry->time, &error)) return false;
  entry->timestamp = timestamp;
  entry->content = rest;
  return true;
}

void AppendFormatted(const LogLine& line, bool timestamps, std::string* out) {
  if (timestamps) {
    out->append(line.timestamp);
    out->push_back(' ');
  }
  out->append(line.content);
  if (!line.partial) out->push_back('\n');
}

void LineJoiner::Add(const LogEntry& entry) {
  const int i = entry.stream == LogStream::kStdout ? 0 : 1;
  LogLine& line = pending_[i];
  if (!has_pending_[i]) {
    line = LogLine{};
    line.stream = entry.stream;
    has_pending_[i] = true;
  }
  line.content.append(entry.content.data(), entry.content.size());
  line.time = entry.time;
  line.timestamp.assign(entry.timestamp.data(), entry.timestamp.size());
  if (entry.partial) return;
  has_pending_[i] = false;
  sink_(std::move(line));
}

void LineJoiner::Flush() {
  for (int i = 0; i < 2; ++i) {
    if (!has_pending_[i]) continue;
    has_pending_[i] = false;
    pending_[i].partial = true;
    sink_(std::move(pending_[i]));
  }
}

void LineJoiner::Reset() { has_pending_[0] = has_pending_[1] = false; }

}  // namespace berth::runtime::logs
