#include "controller/metrics/container_metrics.h"

#include <algorithm>
#include <optional>
#include <set>
#include <thread>
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

std::vector<ContainerMetrics::Stats> ContainerMetrics::ReadAll(
    const std::vector<std::string>& paths) const {
  std::vector<Stats> out(paths.size());
  auto read = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      absl::StatusOr<runtime::CgroupStats> s =
          reader_.Read(paths[i], runtime::kCgroupCpu | runtime::kCgroupMemory);
      if (s.ok()) out[i] = *std::move(s);
    }
  };
  const size_t threads =
      std::min<size_t>({kMaxReaders, std::max(1u, std::thread::hardware_concurrency()),
                        paths.size() / kPerReader + 1});
  std::vector<std::thread> readers;
  const size_t chunk = (paths.size() + threads - 1) / threads;
  for (size_t t = 1; t < threads; ++t) {
    readers.emplace_back(read, std::min(paths.size(), t * chunk),
                         std::min(paths.size(), (t + 1) * chunk));
  }
  read(0, std::min(paths.size(), chunk));
  for (std::thread& t : readers) t.join();
  return out;
}

std::vector<std::string> ContainerMetrics::RunningPaths() const {
  std::vector<std::string> paths;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, k] : known_) {
    if (k.phase == controller::PhaseName(controller::Phase::kRunning) && !k.container_id.empty()) {
      paths.push_back(k.cgroup_path);
    }
  }
  return paths;
}

void ContainerMetrics::Refresh() const {
  while (true) {
    {
      absl::MutexLock lock(&stats_mu_);
      stats_mu_.AwaitWithTimeout(absl::Condition(&stopping_), refresh_);
      if (stopping_) return;
    }
    // One by one, off any scrape's path: the kernel's work, not a wait.
    const std::vector<std::string> paths = RunningPaths();
    std::map<std::string, Stats> fresh;
    for (const std::string& path : paths) {
      absl::StatusOr<runtime::CgroupStats> s =
          reader_.Read(path, runtime::kCgroupCpu | runtime::kCgroupMemory);
      fresh[path] = s.ok() ? Stats(*std::move(s)) : std::nullopt;
    }
    // The files of containers no longer running are closed.
    reader_.KeepOnly(std::set<std::string>(paths.begin(), paths.end()));
    absl::MutexLock lock(&stats_mu_);
    stats_.swap(fresh);
  }
}

ContainerMetrics::ContainerMetrics(std::function<std::string(const std::string&)> cgroup_path_for,
                                   runtime::CgroupLayout layout, absl::Duration refresh)
    : cgroup_path_for_(std::move(cgroup_path_for)), refresh_(refresh), reader_(std::move(layout)) {}

ContainerMetrics::~ContainerMetrics() { StopRefreshing(); }

void ContainerMetrics::StopRefreshing() {
  std::thread refresher;
  {
    absl::MutexLock lock(&stats_mu_);
    stopping_ = true;
    refresher.swap(refresher_);
  }
  if (refresher.joinable()) refresher.join();
}

void ContainerMetrics::Report(const controller::ContainerReport& report) {
  absl::MutexLock lock(&mu_);
  Known& k = known_[report.id];
  k.namespace_ = report.namespace_;
  k.name = report.name;
  k.phase = report.phase;
  k.container_id = report.container_id;
  if (!k.container_id.empty()) k.cgroup_path = cgroup_path_for_(k.container_id);
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
  // The last values the background reads found; the cgroups of containers
  // they have not seen yet are read now (all of them with refresh_ zero).
  std::vector<Stats> stats(running.size());
  std::vector<size_t> unread;
  {
    absl::MutexLock lock(&stats_mu_);
    for (size_t i = 0; i < running.size(); ++i) {
      auto it =
          refresh_ > absl::ZeroDuration() ? stats_.find(running[i].cgroup_path) : stats_.end();
      if (it == stats_.end()) {
        unread.push_back(i);
      } else {
        stats[i] = it->second;
      }
    }
  }
  if (!unread.empty()) {
    std::vector<std::string> paths;
    paths.reserve(unread.size());
    for (size_t i : unread) paths.push_back(running[i].cgroup_path);
    std::vector<Stats> read = ReadAll(paths);
    for (size_t j = 0; j < unread.size(); ++j) stats[unread[j]] = read[j];
    if (refresh_ == absl::ZeroDuration()) {
      // The files of containers no longer running are closed.
      reader_.KeepOnly(std::set<std::string>(paths.begin(), paths.end()));
    }
  }
  if (refresh_ > absl::ZeroDuration()) {
    absl::MutexLock lock(&stats_mu_);
    for (size_t j = 0; j < unread.size(); ++j) {
      stats_.emplace(running[unread[j]].cgroup_path, stats[unread[j]]);
    }
    if (!refresher_.joinable() && !stopping_) refresher_ = std::thread([this] { Refresh(); });
  }
  cpu.metric.reserve(running.size());
  memory.metric.reserve(running.size());
  for (size_t i = 0; i < running.size(); ++i) {
    if (!stats[i].has_value()) continue;  // gone since its report
    const Known& k = running[i];
    prometheus::ClientMetric m;
    m.label = {{"container", k.name},
               {"id", k.cgroup_path},
               {"name", k.name},
               {"namespace", k.namespace_}};
    if (stats[i]->cpu_usage_seconds) {
      m.counter.value = *stats[i]->cpu_usage_seconds;
      cpu.metric.push_back(m);
    }
    if (stats[i]->memory_working_set_bytes) {
      m.gauge.value = static_cast<double>(*stats[i]->memory_working_set_bytes);
      memory.metric.push_back(std::move(m));
    }
  }
  return {std::move(phases), std::move(restarts), std::move(cpu), std::move(memory)};
}

}  // namespace berth::metrics
