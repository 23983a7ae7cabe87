#include "runtime/monitor/sys_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace berth::monitor {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 if invalid.
// Rejects overlong forms, surrogates and code points above U+10FFFF.
size_t Utf8SequenceLength(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;
    if (lead == 0xED) max_second = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;
    if (lead == 0xF4) max_second = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(1) < min_second || byte(1) > max_second) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  }
  return length;
}

void AppendEscapedAscii(unsigned char c, std::string* out) {
  switch (c) {
    case '"': *out += "\\\""; return;
    case '\\': *out += "\\\\"; return;
    case '\n': *out += "\\n"; return;
    case '\r': *out += "\\r"; return;
    case '\t': *out += "\\t"; return;
    case '\b': *out += "\\b"; return;
    case '\f': *out += "\\f"; return;
    default: break;
  }
  if (c < 0x20 || c == 0x7F) {
    char buf[8];
    snprintf(buf, sizeof(buf), "\\u%04x", c);
    *out += buf;
    return;
  }
  out->push_back(static_cast<char>(c));
}

}  // namespace

std::string ErrnoMessage(const char* action, const std::string& object, int err) {
  std::string message = action;
  message += ' ';
  message += object;
  message += ": ";
  message += strerror(err);
  return message;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadSmallFile(const std::string& path, size_t max_bytes, std::string* out,
                   std::string* error) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    *error = ErrnoMessage("open", path, errno);
    return false;
  }
  out->clear();
  char buf[512];
  while (out->size() < max_bytes) {
    size_t want = max_bytes - out->size();
    ssize_t n = read(fd.get(), buf, want < sizeof(buf) ? want : sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoMessage("read", path, errno);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool WriteFileAtomic(const std::string& path, const std::string& content, const char* what,
                     bool durable, std::string* error) {
  const std::string tmp = path + ".tmp";
  const std::string object = std::string(what) + " " + tmp;
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    *error = ErrnoMessage("create", object, errno);
    return false;
  }
  const char* action = nullptr;
  if (!WriteAll(fd.get(), content.data(), content.size())) {
    action = "write";
  } else if (durable && fsync(fd.get()) != 0) {
    action = "fsync";
  } else if (close(fd.Release()) != 0) {
    action = "close";
  } else if (rename(tmp.c_str(), path.c_str()) != 0) {
    action = "rename";
  }
  if (action != nullptr) {
    *error = ErrnoMessage(action, object, errno);
    unlink(tmp.c_str());
    return false;
  }
  if (!durable) return true;
  const std::string dir = DirName(path);
  UniqueFd dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid() || fsync(dir_fd.get()) != 0) {
    *error = ErrnoMessage("fsync directory", dir, errno);
    return false;
  }
  return true;
}

struct timespec RealtimeNow() {
  struct timespec ts = {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

int64_t MonotonicMillis() {
  struct timespec ts = {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t UnixNanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string FormatRfc3339Nano(const struct timespec& ts) {
  struct tm utc = {};
  time_t seconds = ts.tv_sec;
  gmtime_r(&seconds, &utc);
  char buf[64];
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
           utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
           static_cast<long>(ts.tv_nsec));
  return buf;
}

std::string JsonEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 16);
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      AppendEscapedAscii(c, &out);
      ++i;
      continue;
    }
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  return out;
}

bool ParseInt64(const char* text, int64_t* value) {
  if (text == nullptr || *text == '\0') return false;
  errno = 0;
  char* end = nullptr;
  long long parsed = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return false;
  *value = parsed;
  return true;
}

std::string TrimWhitespace(const std::string& text) {
  const char* kSpace = " \t\r\n\v\f";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

}  // namespace berth::monitor
