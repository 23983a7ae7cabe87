// The process metrics every Prometheus client library exports, for berthd
// itself, read from /proc at scrape time:
//   process_cpu_seconds_total       user and system CPU time
//   process_resident_memory_bytes   resident set size
//   process_virtual_memory_bytes    virtual memory size
//   process_open_fds, process_max_fds
//   process_start_time_seconds      since the Unix epoch
#ifndef BERTH_CONTROLLER_METRICS_PROCESS_COLLECTOR_H_
#define BERTH_CONTROLLER_METRICS_PROCESS_COLLECTOR_H_

#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace berth::metrics {

class ProcessCollector : public prometheus::Collectable {
 public:
  // `proc_dir` is the process's /proc directory (tests may name another
  // process's: /proc/<pid>).
  explicit ProcessCollector(std::string proc_dir = "/proc/self");

  // Series whose source cannot be read are left out.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string proc_dir_;
  const double boot_time_seconds_;  // /proc/stat btime
  const long ticks_per_second_;
  const long page_size_;
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_PROCESS_COLLECTOR_H_
