// Reading a container's log: the live CRI log file berth-monitor writes
// (ContainerStatus.log_path) and its rotated files, as `kubectl logs` and
// `crictl logs` read kubelet's.
//
// Files: the monitor rotates FILE -> FILE.1 -> ... -> FILE.<n-1> (the oldest
// dropped), or truncates FILE when it keeps one file
// (runtime/monitor/cri_log_writer.h). A read opens FILE, FILE.1, FILE.2, ...
// newest first (so a rotation during the opening loses nothing: a file seen
// twice under two names is read once) and reads them oldest first.
//
// Lines: each stream's P entries are joined with the F entry that ends them
// into one whole line (LineJoiner); --tail counts whole lines, --since
// compares a line's time (that of its last entry). Entries not in the
// format are skipped.
//
// The end of a file:
// - A torn last line (no newline yet) of the live file is an entry still
//   being written: a plain read leaves it out, a follow waits for its end.
//   The last line of a file that was rotated away, or of the live file once
//   its writer is gone, is read as it is (it will never be completed).
// - Pieces of a line (P entries) still waiting for their end when a read
//   finishes are sent as a partial line (LogLine::partial); a follow keeps
//   them until their end arrives.
// - A file removed while it is read (a rotation dropping the oldest, the
//   container deleted) is read to its end through the open descriptor.
//
// Follow: after the backlog, the reader waits on inotify (the file's
// directory) for more, wakes at least every `poll_interval` to ask its
// control whether to stop, and never spins. A rotation is noticed by the
// path naming another inode; the old file is then read to its end, then the
// files that appeared since (normally just the new live file) oldest first.
// A truncation (the one-file mode) is noticed by the size falling below the
// position read so far; reading starts over at 0. A truncation followed by
// growth past the old position before the reader looks is not noticed.
#ifndef BERTH_RUNTIME_LOGS_LOG_READER_H_
#define BERTH_RUNTIME_LOGS_LOG_READER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "runtime/logs/log_parser.h"

namespace berth::runtime::logs {

struct LogReadOptions {
  bool include_stdout = true;
  bool include_stderr = true;
  // Only the last N whole lines of the backlog (after the filters); -1 for
  // all of them, 0 for none (a follow then shows only what comes).
  int64_t tail_lines = -1;
  // Lines whose time is before this are skipped.
  absl::Time since = absl::InfinitePast();
  // Keep reading as the log grows, across rotations, until the control
  // says to stop.
  bool follow = false;
  // The longest a follow waits without looking at its control (and at the
  // file, should inotify miss a change).
  absl::Duration poll_interval = absl::Milliseconds(200);
};

// How a follow learns that it should end. Both are called from the
// reading thread, at least every poll_interval; either may be empty.
struct FollowControl {
  // True once the caller is gone (a cancelled call): the follow ends at once.
  std::function<bool()> cancelled;
  // False once the container's monitor has written its last (the container
  // stopped for good or was deleted): the follow reads what is left, sends
  // the pieces of a line still waiting (partial) and ends. Asked before each
  // read, so nothing written before it said false is missed.
  std::function<bool()> writer_alive;
  // Called each time the reader has sent everything written so far, before
  // it waits for more (a caller batching lines sends its batch then).
  std::function<void()> caught_up;
};

// Receives each line in order; returns false to end the read (a client
// that went away).
using LineSink = std::function<bool(const LogLine&)>;

// Reads the log at `path` and its rotated files into `sink`. OK at the end
// of a plain read, or when a follow ends (its control, or the sink said
// so). kNotFound when no file of the log (`path`, `path`.N) exists at the start;
// other errors name the file and keep the errno's code.
absl::Status ReadLogs(const std::string& path, const LogReadOptions& options,
                      const FollowControl& control, const LineSink& sink);

}  // namespace berth::runtime::logs

#endif  // BERTH_RUNTIME_LOGS_LOG_READER_H_
