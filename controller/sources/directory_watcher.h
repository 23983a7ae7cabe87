// DirectoryWatcher: tells its owner, from its own thread, that something in a
// directory changed, so that the owner rescans it (e.g. ManifestSource::Scan),
// and which entries changed (DirectoryChange): their names, or "all" whenever
// that is not known (the event queue overflowed, the watch was lost or is
// new, an event on the directory itself, a read error). Calls still merge
// and may be spurious; a name is reported for every event the kernel gave
// about it, so an owner may re-read only those names and what it cannot see
// change by name (a symlinked file), and must still rescan everything now
// and then (changes made through another path to a file, e.g. a hard link,
// give no event here).
//
// Uses inotify on the directory itself (not recursive): creating, deleting,
// writing, renaming into/out of and changing attributes of entries. That
// covers editors' write-temp-then-rename and the Kubernetes ConfigMap volume
// update, which atomically renames the hidden `..data` symlink inside the
// directory. Changes inside subdirectories, or to files outside the directory
// that a symlink points at, are not seen: owners should also rescan
// periodically (as kubelet does for its static pod directory).
//
// Notifications are debounced, and settle as soon as a change is complete:
//  * an event that completes a change (IN_CLOSE_WRITE, a rename into or out
//    of the directory, a deletion, an attribute change, the creation of a
//    directory or symlink) settles once the directory has been quiet for
//    debounce / kQuietFraction (5 ms of the default 100 ms) with no file
//    left half-written, so an editor's save or an `mv` into place is seen
//    within a few ms and the events of one burst still give one call;
//  * a change in progress (a regular file created or modified and not yet
//    closed) waits for its close;
//  * never later than `debounce` after the first unreported event, whatever
//    keeps coming (a writer that holds a file open, a steady stream).
// `debounce` zero: every drained batch of events is reported at once.
//
// The directory itself may be missing or go away: when it is deleted, moved
// away, or the path starts naming another directory (e.g. a symlinked path was
// re-pointed), on_change runs and the watcher polls every 500 ms until the
// path names a directory again, then watches it and runs on_change again. If
// the event queue overflows, on_change runs.
//
// on_change is never called at start (the owner scans at start itself) and
// never concurrently with itself. It must not destroy the watcher.
#ifndef BERTH_CONTROLLER_SOURCES_DIRECTORY_WATCHER_H_
#define BERTH_CONTROLLER_SOURCES_DIRECTORY_WATCHER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/sys/process.h"

namespace berth::controller {

// What changed since the last call.
struct DirectoryChange {
  // Unknown: every entry may have changed.
  bool all = false;
  // Entries (names in the directory) with an event since the last call:
  // created, written, closed after writing, renamed in or out, deleted,
  // attributes changed.
  std::set<std::string> names;
};

class DirectoryWatcher {
 public:
  // A burst of completed changes settles after debounce / kQuietFraction
  // of quiet.
  static constexpr int kQuietFraction = 20;

  // Starts watching `dir`. A `dir` that does not exist yet (or is not a
  // directory) is not an error: it is polled for as described above. Errors:
  // inotify or eventfd unavailable, or adding the watch failing for another
  // reason (EACCES, inotify watch limit): "watch directory <dir>: <cause>".
  static absl::StatusOr<std::unique_ptr<DirectoryWatcher>> Start(
      std::string dir, absl::Duration debounce,
      std::function<void(const DirectoryChange&)> on_change);
  // The same, for an owner that re-reads everything at each call.
  static absl::StatusOr<std::unique_ptr<DirectoryWatcher>> Start(std::string dir,
                                                                 absl::Duration debounce,
                                                                 std::function<void()> on_change);

  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  // Stops and joins the thread; returns promptly, after waiting for an
  // on_change call in progress. No call starts after it returns.
  ~DirectoryWatcher();

 private:
  DirectoryWatcher(std::string dir, absl::Duration debounce,
                   std::function<void(const DirectoryChange&)> on_change,
                   runtime::UniqueFd inotify_fd, runtime::UniqueFd stop_fd);

  // Tries to watch dir_: 0 on success, else the errno (ENOENT or ENOTDIR
  // when the path names no directory now).
  int AddWatch();
  void RemoveWatch();
  // Whether dir_ still names the watched directory.
  bool StillWatchingPath() const;
  // Reads all queued events. Returns whether there was any; sets
  // `watch_lost` if the watch went away (directory deleted, moved, unmounted).
  // Keeps writing_ (the names created or modified and not closed since).
  bool DrainEvents(bool& watch_lost);
  void Run();

  const std::string dir_;
  const absl::Duration debounce_;
  const std::function<void(const DirectoryChange&)> on_change_;
  runtime::UniqueFd inotify_fd_;
  runtime::UniqueFd stop_fd_;  // eventfd; written by the destructor

  // Used only by the thread (and by Start before it runs).
  int wd_ = -1;            // current watch, -1 when none
  dev_t watched_dev_ = 0;  // identity of the watched directory
  ino_t watched_ino_ = 0;
  // Names with a write in progress since the last call (see above).
  absl::flat_hash_set<std::string> writing_;
  // What changed since the last call.
  DirectoryChange change_;

  std::thread thread_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCES_DIRECTORY_WATCHER_H_
