#include "controller/metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "prometheus/client_metric.h"
#include "runtime/sys/process.h"

namespace berth::metrics {
namespace {

double BootTime() {
  absl::StatusOr<std::string> stat = runtime::ReadFile("/proc/stat");
  if (!stat.ok()) return 0;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    double v = 0;
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtod(line, &v)) return v;
  }
  return 0;
}

prometheus::MetricFamily One(const char* name, const char* help, prometheus::MetricType type,
                             double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

ProcessCollector::ProcessCollector(std::string proc_dir)
    : proc_dir_(std::move(proc_dir)),
      boot_time_seconds_(BootTime()),
      ticks_per_second_(sysconf(_SC_CLK_TCK)),
      page_size_(sysconf(_SC_PAGESIZE)) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold anything, so
  // the fields are counted from its closing parenthesis: field 3 (state)
  // is the first after it.
  if (absl::StatusOr<std::string> stat = runtime::ReadFile(proc_dir_ + "/stat"); stat.ok()) {
    const size_t close = stat->rfind(')');
    if (close != std::string::npos) {
      std::vector<absl::string_view> f =
          absl::StrSplit(absl::string_view(*stat).substr(close + 2), ' ');
      // f[0] is field 3: utime is field 14, stime 15, starttime 22, vsize
      // 23, rss 24 (pages).
      double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
      if (f.size() > 21 && absl::SimpleAtod(f[11], &utime) && absl::SimpleAtod(f[12], &stime) &&
          absl::SimpleAtod(f[19], &start) && absl::SimpleAtod(f[20], &vsize) &&
          absl::SimpleAtod(f[21], &rss)) {
        const double tick = static_cast<double>(ticks_per_second_);
        out.push_back(One("process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.", MetricType::Counter,
                          (utime + stime) / tick));
        out.push_back(One("process_resident_memory_bytes", "Resident memory size in bytes.",
                          MetricType::Gauge, rss * static_cast<double>(page_size_)));
        out.push_back(One("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                          MetricType::Gauge, vsize));
        if (boot_time_seconds_ > 0) {
          out.push_back(One("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            MetricType::Gauge, boot_time_seconds_ + start / tick));
        }
      }
    }
  }
  if (DIR* d = opendir((proc_dir_ + "/fd").c_str()); d != nullptr) {
    int n = 0;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    // The directory stream's own descriptor, when the process is this one.
    if (proc_dir_ == "/proc/self" || proc_dir_ == "/proc/" + std::to_string(getpid())) --n;
    out.push_back(
        One("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, n));
  }
  if (absl::StatusOr<std::string> limits = runtime::ReadFile(proc_dir_ + "/limits"); limits.ok()) {
    for (absl::string_view line : absl::StrSplit(*limits, '\n')) {
      if (!absl::ConsumePrefix(&line, "Max open files")) continue;
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      double soft = 0;
      if (!f.empty() && absl::SimpleAtod(f[0], &soft)) {
        out.push_back(One("process_max_fds", "Maximum number of open file descriptors.",
                          MetricType::Gauge, soft));
      }
    }
  }
  return out;
}

}  // namespace berth::metrics
