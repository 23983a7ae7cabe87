// The runtime's side of berth-monitor (runtime/monitor/monitor.h has the
// program and its sync protocol): the command line it is given, its spawn,
// the messages it sends while a container is created, and how a monitor
// found on the node is recognised as a container's own.
//
// For runc_runtime's files only: RuncRuntime is the interface callers use.
#ifndef BERTH_RUNTIME_MONITOR_CLIENT_H_
#define BERTH_RUNTIME_MONITOR_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/container_spec.h"
#include "runtime/oci/runc.h"
#include "runtime/state_store.h"
#include "runtime/sys/unique_fd.h"

namespace berth::runtime {

// The monitor reports its pid as its first action; this bounds that wait
// independently of the create timeout, so a timed-out create still learns
// which process group to kill.
inline constexpr absl::Duration kMonitorHelloTimeout = absl::Seconds(5);

// The monitor found beside the running executable, else the installed one.
std::string DefaultMonitorPath();

// The command line of the monitor of `spec`'s container: `binary`, the
// container's files as `store` places them, runc as `runc` runs it, and the
// OOM events of `cgroups_path` when the kernel has them, and, unless
// `overlay_options` is empty, the overlay it mounts on the bundle's rootfs
// for runc alone. Its sync socket is fd 3 (MonitorLaunch::Start provides it).
std::vector<std::string> MonitorArgv(const std::string& binary, const ContainerSpec& spec,
                                     const StateStore& store, const oci::Runc& runc,
                                     const std::string& cgroups_path,
                                     const std::string& overlay_options);

// The container id of `pid` if it is a berth-monitor (its --id); empty if
// not, or if `pid` <= 0.
std::string MonitorIdOf(pid_t pid);

// Start time of `pid` (see ProcessStartTime) if it is the berth-monitor of
// container `id`; 0 if not, or if `pid` <= 0.
uint64_t MonitorStartTimeIfOurs(pid_t pid, const std::string& id);

// Lines of JSON from the monitor's sync socket, buffered.
class SyncReader;

// A berth-monitor from its spawn until it has reported `runc create`. The
// monitor starts while the bundle is being prepared, and waits for Go.
// Destroying it reaps the spawner; the monitor itself lives on (it detaches
// into a session of its own). Not thread-safe.
class MonitorLaunch {
 public:
  // Spawns `argv` with one end of a stream socket as fd 3.
  static absl::StatusOr<MonitorLaunch> Start(const std::vector<std::string>& argv);

  MonitorLaunch(MonitorLaunch&& other) noexcept;
  MonitorLaunch& operator=(MonitorLaunch&&) = delete;
  ~MonitorLaunch();

  // Reaps the short-lived spawner and reads the monitor's first line: its
  // pid. Idempotent once it succeeded. kDeadlineExceeded when no line
  // arrives by `deadline`; kInternal when the spawner or the monitor failed.
  absl::StatusOr<pid_t> Hello(absl::Time deadline);

  // Tells the monitor to run runc create. A monitor already gone is found
  // by the next read.
  void Go();

  // After Go: waits until `deadline` for the monitor's word on runc create
  // and returns the container's pid (0 when the message has none: the
  // caller checks the process). kInternal with the monitor's message when
  // runc create failed or the monitor died.
  absl::StatusOr<pid_t> Created(absl::Time deadline);

 private:
  MonitorLaunch(std::string binary, pid_t spawner, UniqueFd fd);
  absl::Status ReapSpawner();

  std::string binary_;
  pid_t spawner_;
  std::unique_ptr<SyncReader> sync_;
  pid_t monitor_pid_ = 0;
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_MONITOR_CLIENT_H_
