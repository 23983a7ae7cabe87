// Daemon's probes: the action runner (exec, HTTP, TCP, gRPC, sleep) and
// the prober, wired to the reconciler (kills and readiness) and the metrics.
#include "absl/strings/str_cat.h"
#include "controller/api/version.h"
#include "controller/berthd/daemon.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::berthd {

void Daemon::BuildProber(controller::ReconcilerOptions* reco) {
  actions_ = std::make_unique<controller::RealActionRunner>(
      *runtime_,
      controller::RealActionRunnerOptions{absl::StrCat("berth-probe/", api::kBerthVersion)});
  controller::ProberOptions po;
  po.state_dir = config_.run_dir + "/probes";
  if (absl::Status s = runtime::MakeDirs(po.state_dir, 0700); !s.ok()) {
    spdlog::warn("probe counts are kept in memory only: {}", s.ToString());
    po.state_dir.clear();
  }
  po.events = events_.get();
  po.kill = [this](const std::string& id, const controller::ProbeKill& k) {
    reconciler_->RequestKill(id, controller::KillRequest{0, k.created_at, k.message, k.grace});
    probes_.Push(id);
  };
  po.changed = [this](const std::string& id) { probes_.Push(id); };
  Observability* o = observability_.get();
  po.on_result = [o](controller::ProbeType type, bool success) {
    o->ProbeResult(controller::ProbeTypeName(type), success);
  };
  // Probes are timed with the steady clock; container start times are
  // wall-clock times.
  prober_ = std::make_unique<controller::Prober>(*actions_, controller::SteadyClock(),
                                                 controller::RealClock(), std::move(po));
  reco->actions = actions_.get();  // the lifecycle hooks
  controller::Prober* prober = prober_.get();
  reco->observe_health = [prober](const std::string& id, const controller::NodeContainer& object,
                                  const runtime::ContainerStatus* running) {
    return prober->Observe(id, object, running);
  };
  reco->forget_health = [prober](const std::string& id) { prober->Forget(id); };
}

}  // namespace berth::berthd
