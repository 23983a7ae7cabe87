// The containers as metrics: a StatusSink (added to the daemon's fan-out)
// that keeps the last report of each container, and a collector that turns
// them into series at scrape time:
//
//   berth_containers{phase}                      gauge: containers per phase
//                                                (every phase, 0 included)
//   berth_container_restarts_total{namespace,name}  counter: the container's
//                                                restart count, as reported
//   container_cpu_usage_seconds_total{namespace,name,container,id}
//   container_memory_working_set_bytes{namespace,name,container,id}
//       cAdvisor's names and values, read from the cgroup of each Running
//       container (runtime/cgroup_stats.h): `container` is the container's
//       name as kubelet's cAdvisor labels it, `id` its cgroup path as
//       cAdvisor's `id`.
//
// A scrape reads three small files per running container (on up to
// kMaxReaders threads at once) and takes the sink's lock only to copy what
// it needs: no runc, no runtime call (hack/metrics_bench.cc measures it).
#ifndef BERTH_CONTROLLER_METRICS_CONTAINER_METRICS_H_
#define BERTH_CONTROLLER_METRICS_CONTAINER_METRICS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/status.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "runtime/cgroup_stats.h"

namespace berth::metrics {

class ContainerMetrics : public controller::StatusSink, public prometheus::Collectable {
 public:
  // `cgroup_path_for` maps a runtime container id to its cgroups path
  // (RuncRuntime::CgroupPathFor); `layout` says where the hierarchies are.
  ContainerMetrics(std::function<std::string(const std::string& id)> cgroup_path_for,
                   runtime::CgroupLayout layout = runtime::CgroupLayout::Host());

  void Report(const controller::ContainerReport& report) override ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(const std::string& id) override ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<prometheus::MetricFamily> Collect() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Known {
    std::string namespace_;
    std::string name;
    std::string phase;
    std::string container_id;  // empty: none observed
    int restart_count = 0;
  };

  // At most this many threads read the cgroups of one scrape, each at least
  // kPerReader containers' (fewer containers: fewer threads).
  static constexpr size_t kMaxReaders = 4;
  static constexpr size_t kPerReader = 128;

  // The stats of each container's cgroup; nullopt where it has none.
  std::vector<std::optional<runtime::CgroupStats>> ReadAll(const std::vector<Known>& running) const;

  const std::function<std::string(const std::string&)> cgroup_path_for_;
  const runtime::CgroupLayout layout_;
  mutable absl::Mutex mu_;
  std::map<std::string, Known> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_CONTAINER_METRICS_H_
