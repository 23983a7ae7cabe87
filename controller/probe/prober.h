// The prober (kubelet's pkg/kubelet/prober: prober_manager.go, worker.go,
// results): liveness, readiness and startup probes of the running
// containers, as timers on one shared TimerPool (a heap and a few threads
// for the blocking checks), never a thread per probe.
//
// Per container instance (a running container, named by its creation
// time) and probe type, kubelet's worker semantics:
//  * results start as kubelet's: liveness success, readiness failure,
//    startup unknown; a probe first runs at startedAt + initialDelaySeconds
//    (at once for a container already past that), then every
//    periodSeconds from the start of the previous run, each run bounded by
//    timeoutSeconds;
//  * a result becomes the probe's result once it has repeated
//    failureThreshold (failure) or successThreshold (success) times in a
//    row;
//  * while a startup probe has not succeeded, liveness and readiness do not
//    run (and the container is not ready); once it succeeds it stops and
//    the others start at once;
//  * liveness or startup failure past the threshold: Warning Unhealthy
//    events at each failed run ("Liveness probe failed: <output>", the
//    output cut at kMaxEventOutput), then the kill callback with "Container
//    <name> failed liveness probe, will be restarted" and the probe's
//    terminationGracePeriodSeconds; the probe is then on hold until a new
//    container instance appears (the reconciler stops it, and the restart
//    policy decides what follows, as for any exit);
//  * readiness changes only Ready: the changed callback asks for a new look
//    at the id (the reconciler's report then carries it).
//
// The reconciler tells the prober what runs (Observe at each look, Forget
// when the id is gone): a new instance replaces the workers, a change of an
// object's probes swaps only the probes that changed (their counts start
// again; the result stays), nothing restarts a container. After a berthd
// restart the first look at an adopted container resumes its probes.
//
// Counts across a berthd restart (kill -9 included): kubelet starts them
// afresh; here, when Options::state_dir is set, each probe's last result
// and run length are written (small JSON, atomically, only when they
// change: at most a few writes per failure, none while a probe keeps
// succeeding) and read back for the same instance, so a restart loses at
// most the run that was in flight (one period).
//
// Threads: Observe and Forget for one id come from its reconcile (the work
// queue never runs two at once for an id); for different ids, and with the
// probe runs on the pool, they may run concurrently. One probe of one
// container never runs twice at once. Callbacks and events are called
// without the prober's lock held, from pool threads.
#ifndef BERTH_CONTROLLER_PROBE_PROBER_H_
#define BERTH_CONTROLLER_PROBE_PROBER_H_

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/events.h"
#include "controller/probe/action_runner.h"
#include "controller/probe/timer_pool.h"
#include "controller/queue/clock.h"
#include "controller/spec/node_container.h"
#include "runtime/container_spec.h"

namespace berth::controller {

enum class ProbeType { kLiveness = 0, kReadiness = 1, kStartup = 2 };
// "Liveness", "Readiness", "Startup" (kubelet's metric label and events).
const char* ProbeTypeName(ProbeType type);

inline constexpr size_t kMaxEventOutput = 1024;

// Why and how a probe wants a container killed.
struct ProbeKill {
  absl::Time created_at;                // the instance the probe ran against
  std::string message;                  // for the Killing event
  std::optional<absl::Duration> grace;  // the probe's terminationGracePeriodSeconds
};

struct ProberOptions {
  // How many checks may run at once (the TimerPool's threads); 0: none,
  // RunDue() drives them (tests).
  int workers = 4;
  // Where counts survive a berthd restart; empty: kept in memory only.
  std::string state_dir;
  // Events (Unhealthy); null: the log.
  EventRecorder* events = nullptr;
  // A liveness or startup probe failed past its threshold (required).
  std::function<void(const std::string& id, const ProbeKill& kill)> kill;
  // Readiness or startup of `id` changed: look at it again (required).
  std::function<void(const std::string& id)> changed;
  // Each run's outcome (prober_probe_total); may be empty.
  std::function<void(ProbeType type, bool success)> on_result;
};

class Prober {
 public:
  // `runner` and `clock` must outlive the prober. The clock times the
  // probes (SteadyClock() in berthd); container start times are wall times
  // and are compared with `wall` (RealClock()).
  Prober(ActionRunner& runner, const Clock& clock, const Clock& wall, ProberOptions options);
  ~Prober();  // Stop()
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // The reconciler's look at `id`: `running` is its container when it runs
  // (nullptr: none runs: probes stop, not ready). Starts, swaps or keeps
  // the probes; returns whether the container is ready now (running,
  // started, and its readiness probe, if any, succeeding).
  bool Observe(const std::string& id, const NodeContainer& object,
               const runtime::ContainerStatus* running) ABSL_LOCKS_EXCLUDED(mu_);
  // The id is gone: its probes stop and what was kept of it goes.
  void Forget(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the pool (running checks finish); Observe then starts nothing.
  void Stop();

  // For tests: runs the checks due now in the caller (workers == 0).
  int RunDue() { return pool_.RunDue(); }
  void Wake() { pool_.Wake(); }

 private:
  enum class Result { kUnknown, kSuccess, kFailure };
  struct Worker {
    HeapOptional<Probe> probe;
    std::string key;  // the probe's fields, to notice a change
    uint64_t generation = 0;
    uint64_t timer = 0;
    Result result = Result::kUnknown;  // the probe's result
    Result last = Result::kUnknown;    // the last run's
    int64_t run = 0;                   // how many runs in a row gave `last`
    bool on_hold = false;
    std::string restored;  // the key's hash in the counts read back (Load)
  };
  struct Entry {
    absl::Time created_at = absl::InfinitePast();
    absl::Time started_at = absl::InfinitePast();
    bool running = false;
    HeapOptional<NodeContainer> object;  // only while a probe is set
    ActionTarget target;
    std::array<Worker, 3> workers;
  };

  bool StartedLocked(const Entry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReadyLocked(const Entry& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleLocked(const std::string& id, Entry& e, ProbeType type, absl::Time at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelLocked(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one probe (a pool task); `generation` names the worker it is for.
  void RunProbe(const std::string& id, ProbeType type, uint64_t generation)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Save(const std::string& id, const Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Load(const std::string& id, Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ActionRunner& runner_;
  const Clock& clock_;
  const Clock& wall_;
  const ProberOptions options_;
  LogEventRecorder log_events_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t generations_ ABSL_GUARDED_BY(mu_) = 0;
  TimerPool pool_;  // last: its threads stop before the rest goes
};

// The fields of a probe as one string (equal strings: the same probe).
std::string ProbeKey(const Probe& probe);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PROBE_PROBER_H_
