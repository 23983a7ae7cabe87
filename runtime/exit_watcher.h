// Notices container exits as they happen. Each container's monitor writes its
// exit file (<containers dir>/<id>/exit.json) by renaming it into place; an
// inotify watch on every container directory reports that rename at once, so
// the controller hears of an exit without waiting for its next relist.
//
// Guarantees:
//  * `on_exit(id)` is called, from the watcher's own thread, after the exit
//    file of `id` is in place (it may be called more than once for one exit,
//    and for a directory that is gone by the time the caller looks).
//  * A container directory made after Start is watched from its creation: an
//    exit file renamed into it before its watch was added is reported when the
//    watch is added.
//  * When the kernel drops events (queue overflow) or cannot add a watch (the
//    inotify watch limit), every container whose exit file exists is reported
//    once the watcher can look again; what it still misses is left to the
//    caller's periodic relist, which remains the safety net.
//  * The destructor stops the thread and returns once it has; no call of
//    `on_exit` is running or will run after it returns.
#ifndef BERTH_RUNTIME_EXIT_WATCHER_H_
#define BERTH_RUNTIME_EXIT_WATCHER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "runtime/sys/unique_fd.h"

namespace berth::runtime {

class ExitWatcher {
 public:
  using Callback = std::function<void(const std::string& id)>;

  // Watches `containers_dir` (the runtime's state directory, which must
  // exist) and every directory in it. Fails only when inotify itself cannot
  // be set up for the directory.
  static absl::StatusOr<std::unique_ptr<ExitWatcher>> Start(std::string containers_dir,
                                                            Callback on_exit);
  ~ExitWatcher();

  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

 private:
  ExitWatcher(std::string containers_dir, Callback on_exit, UniqueFd inotify, UniqueFd stop);

  void Run();
  // Reads and handles what the inotify descriptor holds; false when it
  // cannot be read any more.
  bool Drain();
  // Adds (or finds) the watch on the container directory `name`: its
  // descriptor, or -1 when it cannot be watched.
  int WatchDir(const std::string& name);
  // Reports `name` when its exit file is there.
  void ReportIfExited(const std::string& name);
  // Watches every container directory anew (dropping stale descriptors),
  // reporting exit files in the directories that lacked a watch; with
  // `report_all`, every exit file present.
  void Rescan(bool report_all);

  const std::string dir_;
  const Callback on_exit_;
  UniqueFd inotify_;
  UniqueFd stop_;  // an eventfd: written by the destructor
  int root_wd_ = -1;
  std::map<int, std::string> ids_;  // watch descriptor -> container id; the thread's own
  bool missed_ = false;             // a watch could not be added: rescan now and then
  std::thread thread_;
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_EXIT_WATCHER_H_
