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
// The cgroup values are read as cAdvisor's housekeeping reads them in
// kubelet: by a background thread every `refresh` (kStatsRefresh, 10 s, by
// default), started at the first scrape; a scrape serves the last values
// read, so they are at most `refresh` (plus one round of reads) old, and
// reads only the cgroups of containers Running since the last round (on up
// to kMaxReaders threads at once). A round reads three small files per
// running container, each kept open from one round to the next and read
// with one pread (runtime::CgroupStatsReader): ~25 ms of CPU for 1,000
// containers on cgroup v1, most of it the kernel's making of memory.stat,
// which a scrape no longer waits for. A `refresh` of zero reads every
// running container's cgroup at each scrape instead. Nothing takes the
// sink's lock but to copy what it needs: no runc, no runtime call
// (hack/metrics_bench.cc measures a scrape).
#ifndef BERTH_CONTROLLER_METRICS_CONTAINER_METRICS_H_
#define BERTH_CONTROLLER_METRICS_CONTAINER_METRICS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/status.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "runtime/cgroup_stats.h"

namespace berth::metrics {

class ContainerMetrics : public controller::StatusSink, public prometheus::Collectable {
 public:
  // How often the background thread reads the running containers' cgroups
  // (cAdvisor's housekeeping interval in kubelet).
  static constexpr absl::Duration kStatsRefresh = absl::Seconds(10);

  // `cgroup_path_for` maps a runtime container id to its cgroups path
  // (RuncRuntime::CgroupPathFor); `layout` says where the hierarchies are;
  // `refresh` is how old the values a scrape serves may be (zero: none,
  // every scrape reads them).
  ContainerMetrics(std::function<std::string(const std::string& id)> cgroup_path_for,
                   runtime::CgroupLayout layout = runtime::CgroupLayout::Host(),
                   absl::Duration refresh = kStatsRefresh);
  ~ContainerMetrics() override;  // StopRefreshing()

  // Ends the background reads (waiting for a round in progress); scrapes
  // then serve the values last read. `cgroup_path_for` is called only in
  // Report, so the reads never outlive what it uses. Idempotent.
  void StopRefreshing() ABSL_LOCKS_EXCLUDED(stats_mu_);

  void Report(const controller::ContainerReport& report) override ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(const std::string& id) override ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<prometheus::MetricFamily> Collect() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Known {
    std::string namespace_;
    std::string name;
    std::string phase;
    std::string container_id;  // empty: none observed
    std::string cgroup_path;   // cgroup_path_for_(container_id), at Report
    int restart_count = 0;
  };

  // At most this many threads read the cgroups of one scrape, each at least
  // kPerReader containers' (fewer containers: fewer threads).
  static constexpr size_t kMaxReaders = 4;
  static constexpr size_t kPerReader = 128;

  using Stats = std::optional<runtime::CgroupStats>;  // nullopt: no cgroup

  // The stats of each of the cgroups `paths`, read on up to kMaxReaders
  // threads.
  std::vector<Stats> ReadAll(const std::vector<std::string>& paths) const;
  // The running containers' cgroup paths.
  std::vector<std::string> RunningPaths() const ABSL_LOCKS_EXCLUDED(mu_);
  // Reads every running container's cgroup into `stats_` every `refresh_`
  // until StopRefreshing.
  void Refresh() const ABSL_LOCKS_EXCLUDED(stats_mu_);

  const std::function<std::string(const std::string&)> cgroup_path_for_;
  const absl::Duration refresh_;
  // Keeps the cgroup files of running containers open between reads.
  mutable runtime::CgroupStatsReader reader_;
  mutable absl::Mutex mu_;
  std::map<std::string, Known> known_ ABSL_GUARDED_BY(mu_);

  // The last values read, by cgroup path (with refresh_ > 0).
  mutable absl::Mutex stats_mu_;
  mutable std::map<std::string, Stats> stats_ ABSL_GUARDED_BY(stats_mu_);
  mutable bool stopping_ ABSL_GUARDED_BY(stats_mu_) = false;
  mutable std::thread refresher_ ABSL_GUARDED_BY(stats_mu_);  // from the first scrape
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_CONTAINER_METRICS_H_
