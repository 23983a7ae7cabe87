// Daemon: berthd's parts, built in order and stopped in reverse (Envoy's
// MainCommon). It owns the state directory's lock, the runtime, the image
// store, the status sinks, the sources (the manifests directory and, in
// cluster mode, the Kubernetes API), the reconciler and the controller, and
// two periodic tasks: the full resync and image garbage collection.
//
// Run, in order:
//  1. --dry-run: prints the plan of the manifests directory and returns
//     (0, or 1 when a manifest fails); nothing is locked or changed.
//  2. Start: the lock, the runtime (recovering the node's containers), the
//     images, the status sinks, the cluster's parts, the controller (its
//     workers and relister start; the sources, runtime exits and leftover
//     status files are watched), the API's informers, a full resync, the
//     manifests directory's watch, the local API's socket; READY=1 to
//     systemd; the periodic tasks.
//     A part that cannot be built is logged and Run returns 1.
//     Metrics and health (Observability): the listener of --metrics-addr
//     binds right after the lock (a port in use: Run returns 1) and /readyz
//     says 503 until /healthz's checks and readiness come at the end.
//  3. Signals: SIGHUP resyncs now; SIGTERM or SIGINT shuts down.
//  4. Stop, the reverse: STOPPING=1, the local API closed, pulls cancelled, the periodic tasks,
//     the watches (manifests, exits, the API's informers) and the
//     controller stopped; with --stop-on-exit every container is stopped
//     and removed; the API's last status writes and events get 5 s.
//     /readyz says 503 from the first step; the listener closes last.
#ifndef BERTH_CONTROLLER_BERTHD_DAEMON_H_
#define BERTH_CONTROLLER_BERTHD_DAEMON_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "controller/api/node_view.h"
#include "controller/api/server.h"
#include "controller/api/service.h"
#include "controller/berthd/api_backend.h"
#include "controller/berthd/config.h"
#include "controller/berthd/notify.h"
#include "controller/berthd/observability.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "controller/kube/cluster.h"
#include "controller/probe/prober.h"
#include "controller/probe/real_action_runner.h"
#include "controller/queue/periodic.h"
#include "controller/reconciler.h"
#include "controller/sources/channel_source.h"
#include "controller/sources/manifest_source.h"
#include "controller/sources/multi_source.h"
#include "controller/status.h"
#include "runtime/exit_watcher.h"
#include "runtime/image/registry_image_store.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/unique_fd.h"

namespace berth::berthd {

class Daemon {
 public:
  // `notifier` was taken from the environment before any thread started.
  Daemon(Config config, controller::ServiceNotifier notifier);
  ~Daemon();  // Stop()

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // The process's exit code: 0, or 1 when a part could not be built.
  int Run();

 private:
  int DryRun();
  absl::Status Start();
  // Waits for SIGTERM or SIGINT (blocked by Run before any thread started);
  // SIGHUP runs the resync now.
  void ServeSignals();
  void Stop();

  // Parts built by Start, in order.
  absl::Status OpenRuntime();
  absl::Status BuildCluster();
  void BuildController();
  // The action runner (actions_) and the prober; sets `reco`'s actions and
  // health callbacks.
  void BuildProber(controller::ReconcilerOptions* reco);
  absl::Status StartApi();
  // The object the reconciler is to bring about: a source's, else an API
  // object no longer meant for this node (its container goes and its
  // finalizer is removed).
  std::optional<controller::NodeContainer> Desired(const std::string& id) const;

  const Config config_;
  const controller::ServiceNotifier notifier_;
  // Read at construction (--dry-run plans it).
  std::unique_ptr<controller::ManifestSource> manifests_;
  runtime::UniqueFd lock_;
  // Metrics and health: built right after the lock, gone after every part
  // it measures.
  std::unique_ptr<Observability> observability_;
  std::unique_ptr<runtime::RuncRuntime> runtime_;
  // Runs lifecycle hooks (and probes) in the containers of runtime_.
  std::unique_ptr<controller::RealActionRunner> actions_;
  std::unique_ptr<image::RegistryImageStore> images_;
  std::unique_ptr<controller::FileStatusSink> status_files_;
  // What the local API reads: fed by the status sinks, the event recorders
  // and Desired().
  api::NodeView view_{controller::RealClock()};
  std::unique_ptr<kube::Cluster> cluster_;
  std::unique_ptr<controller::FanOutStatusSink> status_;
  controller::LogEventRecorder log_events_;
  std::unique_ptr<kube::TeeEventRecorder> events_;
  std::unique_ptr<controller::MultiSource> sources_;
  controller::ChannelSource exits_{"exits"};
  controller::ChannelSource leftover_status_{"status-files"};
  controller::ChannelSource restarts_{"restarts"};  // the API's Restart
  controller::ChannelSource probes_{"probes"};      // the prober's kills and readiness changes
  std::unique_ptr<controller::Reconciler> reconciler_;
  std::unique_ptr<controller::Prober> prober_;
  std::unique_ptr<controller::Controller> controller_;
  std::unique_ptr<runtime::ExitWatcher> exit_watcher_;
  std::unique_ptr<controller::Periodic> resync_;
  std::unique_ptr<controller::Periodic> image_gc_;
  std::unique_ptr<controller::Periodic> heap_trim_;
  std::unique_ptr<controller::ManifestWriter> manifest_writer_;  // the API's Apply, Delete
  std::unique_ptr<DaemonApiBackend> api_backend_;
  std::unique_ptr<api::BerthService> api_service_;
  std::unique_ptr<api::ApiServer> api_server_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace berth::berthd

#endif  // BERTH_CONTROLLER_BERTHD_DAEMON_H_
