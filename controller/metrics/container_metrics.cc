#include "controller/metrics/container_metrics.h"

#include <utility>

#include "controller/phase.h"
#include "prometheus/client_metric.h"

namespace berth::metrics {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

constexpr controller::Phase kPhases[] = {
    controller::Phase::kPending,          controller::Phase::kRunning,
    controller::Phase::kSucceeded,        controller::Phase::kFailed,
    controller::Phase::kCrashLoopBackOff, controller::Phase::kError};

}  // namespace

ContainerMetrics::ContainerMetrics(std::function<std::string(const std::string&)> cgroup_path_for,
                                   runtime::CgroupLayout layout)
    : cgroup_path_for_(std::move(cgroup_path_for)), layout_(std::move(layout)) {}

void ContainerMetrics::Report(const controller::ContainerReport& report) {
  absl::MutexLock lock(&mu_);
  Known& k = known_[report.id];
  k.namespace_ = report.namespace_;
  k.name = report.name;
  k.phase = report.phase;
  k.container_id = report.container_id;
  k.restart_count = report.restart_count;
}

void ContainerMetrics::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  known_.erase(id);
}

std::vector<prometheus::MetricFamily> ContainerMetrics::Collect() const {
  using prometheus::MetricType;
  prometheus::MetricFamily phases =
      Family("berth_containers", "NodeContainers on this node, by phase", MetricType::Gauge);
  prometheus::MetricFamily restarts =
      Family("berth_container_restarts_total", "Times the container has been restarted",
             MetricType::Counter);
  prometheus::MetricFamily cpu =
      Family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.",
             MetricType::Counter);
  prometheus::MetricFamily memory = Family("container_memory_working_set_bytes",
                                           "Current working set in bytes.", MetricType::Gauge);

  std::map<std::string, int> per_phase;
  for (controller::Phase p : kPhases) per_phase[controller::PhaseName(p)] = 0;
  // Copied out under the lock; the cgroup files are read without it.
  std::vector<Known> running;
  {
    absl::MutexLock lock(&mu_);
    restarts.metric.reserve(known_.size());
    for (const auto& [id, k] : known_) {
      ++per_phase[k.phase];
      prometheus::ClientMetric m;
      m.label = {{"name", k.name}, {"namespace", k.namespace_}};
      m.counter.value = k.restart_count;
      restarts.metric.push_back(std::move(m));
      if (k.phase == controller::PhaseName(controller::Phase::kRunning) &&
          !k.container_id.empty()) {
        running.push_back(k);
      }
    }
  }
  for (const auto& [phase, n] : per_phase) {
    prometheus::ClientMetric m;
    m.label = {{"phase", phase}};
    m.gauge.value = n;
    phases.metric.push_back(std::move(m));
  }
  cpu.metric.reserve(running.size());
  memory.metric.reserve(running.size());
  for (const Known& k : running) {
    const std::string path = cgroup_path_for_(k.container_id);
    absl::StatusOr<runtime::CgroupStats> s =
        runtime::ReadCgroupStats(layout_, path, runtime::kCgroupCpu | runtime::kCgroupMemory);
    if (!s.ok()) continue;  // gone since its report
    prometheus::ClientMetric m;
    m.label = {{"container", k.name}, {"id", path}, {"name", k.name}, {"namespace", k.namespace_}};
    if (s->cpu_usage_seconds) {
      m.counter.value = *s->cpu_usage_seconds;
      cpu.metric.push_back(m);
    }
    if (s->memory_working_set_bytes) {
      m.gauge.value = static_cast<double>(*s->memory_working_set_bytes);
      memory.metric.push_back(std::move(m));
    }
  }
  return {std::move(phases), std::move(restarts), std::move(cpu), std::move(memory)};
}

}  // namespace berth::metrics
