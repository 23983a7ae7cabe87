#include "runtime/monitor/cri_log_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace berth::monitor {
namespace {

// Queued bytes that trigger a write even before the caller flushes.
constexpr size_t kFlushThreshold = 64 * 1024;

// " stdout F " and " stderr P ": both the same length.
constexpr size_t kStreamTagBytes = 10;

const char* StreamName(LogStream stream) {
  return stream == LogStream::kStdout ? "stdout" : "stderr";
}

}  // namespace

CriLogWriter::CriLogWriter(std::string path, int64_t max_bytes, int max_files)
    : path_(std::move(path)), max_bytes_(max_bytes), max_files_(max_files < 1 ? 1 : max_files) {}

bool CriLogWriter::Open(std::string* error) {
  if (OpenLive()) return true;
  *error = ErrnoMessage("open log file", path_, errno);
  return false;
}

bool CriLogWriter::OpenLive() {
  fd_.Reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_.valid()) return false;
  struct stat st = {};
  live_size_ = fstat(fd_.get(), &st) == 0 ? st.st_size : 0;
  return true;
}

std::string CriLogWriter::RotatedPath(int index) const {
  return path_ + "." + std::to_string(index);
}

void CriLogWriter::AddEntry(const std::string& timestamp, LogStream stream, bool partial,
                            const char* data, size_t size) {
  const int64_t overhead = static_cast<int64_t>(timestamp.size() + kStreamTagBytes + 1);
  const int64_t room = max_bytes_ - overhead;
  if (room <= 0 || static_cast<int64_t>(size) <= room) {
    AppendEntry(timestamp, stream, partial, data, size);
    return;
  }
  // Too long for any file under the cap: split it, keeping each piece whole.
  const size_t piece = static_cast<size_t>(room);
  while (size > piece) {
    AppendEntry(timestamp, stream, /*partial=*/true, data, piece);
    data += piece;
    size -= piece;
  }
  AppendEntry(timestamp, stream, partial, data, size);
}

void CriLogWriter::AppendEntry(const std::string& timestamp, LogStream stream, bool partial,
                               const char* data, size_t size) {
  const int64_t entry_bytes = static_cast<int64_t>(timestamp.size() + kStreamTagBytes + size + 1);
  const int64_t used = live_size_ + static_cast<int64_t>(pending_.size());
  if (used > 0 && used + entry_bytes > max_bytes_) {
    Flush();
    Rotate();
  }
  pending_ += timestamp;
  pending_ += ' ';
  pending_ += StreamName(stream);
  pending_ += partial ? " P " : " F ";
  pending_.append(data, size);
  pending_ += '\n';
  if (pending_.size() >= kFlushThreshold) Flush();
}

void CriLogWriter::Flush() {
  if (pending_.empty()) return;
  if (!fd_.valid()) OpenLive();
  if (fd_.valid() && WriteAll(fd_.get(), pending_.data(), pending_.size())) {
    live_size_ += static_cast<int64_t>(pending_.size());
  } else if (fd_.valid()) {
    // Dropped (e.g. ENOSPC); re-read the size in case part of it landed.
    struct stat st = {};
    if (fstat(fd_.get(), &st) == 0) live_size_ = st.st_size;
  }
  pending_.clear();
}

void CriLogWriter::Rotate() {
  if (max_files_ > 1) {
    // FILE.(n-2) -> FILE.(n-1) ... FILE.1 -> FILE.2; the rename over the
    // oldest drops it.
    for (int i = max_files_ - 2; i >= 1; --i) {
      rename(RotatedPath(i).c_str(), RotatedPath(i + 1).c_str());
    }
    if (rename(path_.c_str(), RotatedPath(1).c_str()) == 0) {
      OpenLive();
      return;
    }
    // Could not rotate: truncating still keeps the cap.
  }
  if (fd_.valid() && ftruncate(fd_.get(), 0) == 0) {
    live_size_ = 0;
  } else {
    OpenLive();
  }
}

CriLineSplitter::CriLineSplitter(LogStream stream, CriLogWriter* writer, size_t max_line_bytes)
    : stream_(stream), writer_(writer), max_line_bytes_(max_line_bytes == 0 ? 1 : max_line_bytes) {}

void CriLineSplitter::Consume(const std::string& timestamp, const char* data, size_t size) {
  while (size > 0) {
    const char* newline = static_cast<const char*>(memchr(data, '\n', size));
    const size_t segment = newline != nullptr ? static_cast<size_t>(newline - data) : size;
    AppendSegment(timestamp, data, segment);
    if (newline == nullptr) return;
    writer_->AddEntry(timestamp, stream_, /*partial=*/false, line_.data(), line_.size());
    line_.clear();
    data += segment + 1;
    size -= segment + 1;
  }
}

void CriLineSplitter::AppendSegment(const std::string& timestamp, const char* data, size_t size) {
  while (size > 0) {
    // A full buffer is only a P piece once more of the line arrives: a line
    // of exactly max_line_bytes stays one F entry.
    if (line_.size() >= max_line_bytes_) {
      writer_->AddEntry(timestamp, stream_, /*partial=*/true, line_.data(), line_.size());
      line_.clear();
    }
    const size_t take = std::min(size, max_line_bytes_ - line_.size());
    line_.append(data, take);
    data += take;
    size -= take;
  }
}

void CriLineSplitter::Finish(const std::string& timestamp) {
  if (line_.empty()) return;
  writer_->AddEntry(timestamp, stream_, /*partial=*/false, line_.data(), line_.size());
  line_.clear();
}

}  // namespace berth::monitor
