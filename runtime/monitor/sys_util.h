// Small POSIX helpers for berth-monitor. The monitor is a static binary that
// must stay a few hundred KB resident, so these use plain syscalls and report
// errors as text ("<action> <object>: <cause>") instead of absl::Status.
#ifndef BERTH_RUNTIME_MONITOR_SYS_UTIL_H_
#define BERTH_RUNTIME_MONITOR_SYS_UTIL_H_

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <string>

#include "runtime/sys/unique_fd.h"

namespace berth::monitor {

using runtime::UniqueFd;

// "<action> <object>: <strerror(err)>".
std::string ErrnoMessage(const char* action, const std::string& object, int err);

// Writes all of `data`, retrying short writes and EINTR. On failure returns
// false with errno set.
bool WriteAll(int fd, const char* data, size_t size);

// Reads at most `max_bytes` of the file at `path` into `out`.
bool ReadSmallFile(const std::string& path, size_t max_bytes, std::string* out, std::string* error);

// Replaces `path` atomically: writes PATH.tmp and renames it over PATH.
// When `durable`, also fsyncs the file before and the directory after, so
// the content survives a power loss. `what` names the file in error messages
// ("exit file").
bool WriteFileAtomic(const std::string& path, const std::string& content, const char* what,
                     bool durable, std::string* error);

// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);

// CLOCK_REALTIME now.
struct timespec RealtimeNow();
// CLOCK_MONOTONIC now, in milliseconds.
int64_t MonotonicMillis();
// Nanoseconds since the Unix epoch.
int64_t UnixNanos(const struct timespec& ts);
// UTC with nine fractional digits: 2026-11-23T04:42:55.809609676Z.
std::string FormatRfc3339Nano(const struct timespec& ts);

// The body of a JSON string literal (no quotes). Invalid UTF-8 becomes
// U+FFFD so any JSON parser accepts the result.
std::string JsonEscape(const std::string& text);

// Whole-string base-10 parse; false on empty input, junk or overflow.
bool ParseInt64(const char* text, int64_t* value);

// `text` without leading and trailing ASCII whitespace.
std::string TrimWhitespace(const std::string& text);

}  // namespace berth::monitor

#endif  // BERTH_RUNTIME_MONITOR_SYS_UTIL_H_
