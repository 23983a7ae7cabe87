// What the reconciler remembers of each container id between looks: the
// restart and pull back-offs, the exit it saw last and what the next
// container of the id carries, and restarts asked for through the API. In
// memory, but for what the next container carries (PendingRestart), which
// is also kept on disk when a directory is given: an exited container is
// deleted before its successor is created, and a berthd killed in between
// (or whose create keeps failing, say on a full disk, until it is
// restarted) would otherwise lose the restart count and the last exit
// code. A restart of berthd starts every count of delay afresh (the
// restart count itself is an annotation).
#ifndef BERTH_CONTROLLER_RESTART_MEMORY_H_
#define BERTH_CONTROLLER_RESTART_MEMORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/crash_loop_backoff.h"

namespace berth::controller {

// The exit of one container instance (named by its creation time) and
// when it may be restarted.
struct ExitSeen {
  absl::Time created_at;
  absl::Time restart_at;
};

// What the next container of an id carries, kept until it is started (so
// a failed create does not reset the count).
struct PendingRestart {
  int restart_count = 0;
  std::optional<int> last_exit_code;
  std::string last_exit_reason;
};

// A failed pull of `image` for an id: not tried again before `retry_at`.
struct PullFailure {
  std::string image;
  absl::Time retry_at;
  std::string error;
};

// A kill asked for by a liveness or startup probe (Reconciler::RequestKill)
// of the container instance created at `created_at`.
struct KillRequest {
  uint64_t number = 0;  // set by RequestKill
  absl::Time created_at;
  std::string message;                  // the Killing event's
  std::optional<absl::Duration> grace;  // replaces the container's grace period
};

// Everything remembered of one id, as a value.
struct RestartState {
  std::optional<ExitSeen> exit;
  // The restart back-off entry: what the next exit waits (nullopt: none
  // yet, or forgotten; the next exit restarts at once).
  std::optional<absl::Duration> exit_delay;
  std::optional<PendingRestart> pending;
  std::optional<PullFailure> pull;
  std::optional<absl::Duration> pull_delay;  // the last pull back-off delay
  // A restart asked for through the API (RequestRestart) and not yet
  // carried out: its number, 0 when none.
  uint64_t restart_request = 0;
  // A probe's kill not yet carried out.
  std::optional<KillRequest> kill_request;
};

// Thread-safe; the methods for one id are meant to be called by one
// reconcile at a time (the work queue's guarantee), so a Get followed by
// a Record for the same id sees no one else's change in between.
class RestartMemory {
 public:
  // `pending_dir`: where each id's PendingRestart is kept (<dir>/<id>.json,
  // read back here); "" keeps it in memory only.
  explicit RestartMemory(RestartBackoff::Options options, std::string pending_dir = "");

  const RestartBackoff::Options& options() const { return options_; }

  RestartState Get(const std::string& id) const;

  // An exit seen for the first time, and the back-off entry `delay` its
  // restart leaves (what the next exit waits).
  void RecordExit(const std::string& id, ExitSeen exit, absl::Duration delay);
  // What the next container of `id` carries, on disk (atomically) before
  // it returns: an error means nothing may be deleted that it describes.
  absl::Status RecordPending(const std::string& id, PendingRestart pending);
  // The next container has started: nothing is pending any more.
  void ClearPending(const std::string& id);
  // A failed pull, and the pull back-off `delay` after it.
  void RecordPullFailure(const std::string& id, PullFailure failure, absl::Duration delay);
  // A pull succeeded: its back-off starts afresh.
  void ForgetPull(const std::string& id);
  // Everything of `id` (its container is gone, or a new spec replaces it),
  // a restart request included (the container it was about is gone).
  void Forget(const std::string& id);

  // Marks `id` to be recreated at its next reconcile (berthctl restart);
  // returns the request's number (> 0, increasing). A request made while
  // one is pending replaces it.
  uint64_t RequestRestart(const std::string& id);
  // The request numbered `request` was carried out: cleared unless a newer
  // one came meanwhile (which then is carried out at the next reconcile).
  void ConsumeRestart(const std::string& id, uint64_t request);

  // Marks the instance `kill.created_at` of `id` to be stopped at its next
  // reconcile (a failed liveness or startup probe); returns the request's
  // number (> 0). A newer request replaces a pending one.
  uint64_t RequestKill(const std::string& id, KillRequest kill);
  // The kill numbered `request` was carried out (or is moot).
  void ConsumeKill(const std::string& id, uint64_t request);

 private:
  void RemovePendingFile(const std::string& id) const;

  const RestartBackoff::Options options_;
  const std::string pending_dir_;
  mutable absl::Mutex mu_;
  RestartBackoff backoff_ ABSL_GUARDED_BY(mu_);
  RestartBackoff pull_backoff_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PullFailure> pulls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ExitSeen> exits_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PendingRestart> pending_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> restart_requests_ ABSL_GUARDED_BY(mu_);
  uint64_t last_restart_request_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, KillRequest> kill_requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_RESTART_MEMORY_H_
