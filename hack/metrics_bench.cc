// berth-bench-metrics: the cost of one scrape of berthd's /metrics with N
// running containers (default 1,000), next to a floor measured in the same
// run on the same files.
//
// N real cgroups are made under /berth-metrics-bench-<pid> in the host's cpu
// and memory hierarchies (empty: the kernel reads their counters the same
// way as a busy one's), N Running reports are given to ContainerMetrics, and
// Metrics::Scrape() (everything berthd's /metrics renders, process metrics
// included) is timed, the median of --runs, in wall and CPU time: as berthd
// scrapes (the cgroup values from the background reads every 10 s), and
// with every cgroup read at the scrape (refresh zero; about what one round
// of the background reads costs, plus the text). The floors: the same
// cgroup files read with open, one read and close in a loop (the kernel's
// share), and one `cat` of all of them.
// The cgroups are removed at the end.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "controller/metrics/container_metrics.h"
#include "controller/metrics/metrics.h"
#include "controller/metrics/process_collector.h"
#include "runtime/cgroup_stats.h"
#include "runtime/sys/process.h"

ABSL_FLAG(int, n, 1000, "running containers");
ABSL_FLAG(int, runs, 21, "scrapes timed (the median is reported)");

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// This process's user+system CPU time (every thread), in ms.
double CpuMs() {
  rusage u = {};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The containers' cgroup series in a scrape's text.
size_t Series(const std::string& text) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find("\ncontainer_", at)) != std::string::npos; ++at) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_n);
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  const berth::runtime::CgroupLayout& layout = berth::runtime::CgroupLayout::Host();
  if (layout.cpu.empty() || layout.memory.empty()) {
    std::fprintf(stderr, "bench: no cpu or memory cgroup controller mounted\n");
    return 1;
  }
  const std::string parent = absl::StrCat("/berth-metrics-bench-", getpid());
  std::vector<std::string> dirs;  // to remove, children first
  for (const std::string& mount : {layout.cpu, layout.memory}) {
    if (layout.unified && mount != layout.cpu) break;  // one hierarchy
    dirs.push_back(mount + parent);
  }
  auto id = [](int i) { return absl::StrCat("default.c", i); };
  absl::Cleanup remove = [&] {
    for (const std::string& d : dirs) {
      for (int i = 0; i < n; ++i) rmdir(absl::StrCat(d, "/", id(i)).c_str());
      rmdir(d.c_str());
    }
  };
  for (const std::string& d : dirs) {
    if (mkdir(d.c_str(), 0755) != 0) return std::perror(d.c_str()), 1;
    for (int i = 0; i < n; ++i) {
      if (mkdir(absl::StrCat(d, "/", id(i)).c_str(), 0755) != 0) return std::perror("mkdir"), 1;
    }
  }

  // As berthd has it; then (below) one that reads every cgroup at each
  // scrape, made only after the first is timed: its kept files would be
  // listed by the first's process_open_fds.
  auto path_for = [&parent](const std::string& i) { return parent + "/" + i; };
  auto report = [&id](berth::metrics::ContainerMetrics& c, int n) {
    for (int i = 0; i < n; ++i) {
      berth::controller::ContainerReport r;
      r.id = r.container_id = id(i);
      r.namespace_ = "default";
      r.name = absl::StrCat("c", i);
      r.phase = "Running";
      c.Report(r);
    }
  };
  berth::metrics::Metrics metrics;
  berth::metrics::ContainerMetrics containers(path_for, layout);
  berth::metrics::ProcessCollector process;
  metrics.AddCollector(&containers);
  metrics.AddCollector(&process);
  report(containers, n);

  // The files a scrape reads, as the kernel serves them.
  std::vector<std::string> files;
  for (int i = 0; i < n; ++i) {
    const std::string rel = parent + "/" + id(i) + "/";
    if (layout.unified) {
      for (const char* f : {"cpu.stat", "memory.current", "memory.stat"}) {
        files.push_back(layout.cpu + rel + f);
      }
    } else {
      files.push_back(layout.cpu + rel + "cpuacct.usage");
      files.push_back(layout.memory + rel + "memory.usage_in_bytes");
      files.push_back(layout.memory + rel + "memory.stat");
    }
  }
  std::vector<double> scrape, read_floor, scrape_cpu, read_cpu;
  size_t bytes = 0;
  std::string last;                     // the last scrape's text
  for (int r = 0; r < runs + 1; ++r) {  // the first of each is a warm-up
    const double c0 = CpuMs();
    Clock::time_point t0 = Clock::now();
    const std::string text = metrics.Scrape();
    Clock::time_point t1 = Clock::now();
    const double c1 = CpuMs();
    char buf[8192];
    for (const std::string& f : files) {
      const int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return std::perror(f.c_str()), 1;
      // One read, as the scrape's: each file fits in the buffer.
      if (read(fd, buf, sizeof buf) <= 0) return std::perror(f.c_str()), 1;
      close(fd);
    }
    Clock::time_point t2 = Clock::now();
    const double c2 = CpuMs();
    if (r == 0) continue;
    scrape_cpu.push_back(c1 - c0);
    read_cpu.push_back(c2 - c1);
    bytes = text.size();
    last = text;
    scrape.push_back(Ms(t1 - t0));
    read_floor.push_back(Ms(t2 - t1));
  }
  std::vector<double> reading_scrape, reading_cpu;
  {
    berth::metrics::Metrics reading_metrics;
    berth::metrics::ContainerMetrics reading(path_for, layout, absl::ZeroDuration());
    reading_metrics.AddCollector(&reading);
    reading_metrics.AddCollector(&process);
    report(reading, n);
    for (int r = 0; r < runs + 1; ++r) {
      const double c0 = CpuMs();
      Clock::time_point t0 = Clock::now();
      const std::string text = reading_metrics.Scrape();
      Clock::time_point t1 = Clock::now();
      const double c1 = CpuMs();
      if (Series(text) != Series(last)) return std::fprintf(stderr, "bench: scrapes differ\n"), 1;
      if (r == 0) continue;
      reading_scrape.push_back(Ms(t1 - t0));
      reading_cpu.push_back(c1 - c0);
    }
    reading_metrics.RemoveCollector(&reading);
    reading_metrics.RemoveCollector(&process);
  }
  // One cat of every file (an exec, then the same reads).
  std::vector<std::string> cat = {"/bin/cat"};
  cat.insert(cat.end(), files.begin(), files.end());
  std::vector<double> cat_floor;
  for (int r = 0; r < 5; ++r) {
    Clock::time_point t0 = Clock::now();
    absl::StatusOr<berth::runtime::CommandResult> c =
        berth::runtime::RunCommand(cat, absl::Seconds(60));
    if (!c.ok() || c->exit_code != 0) {
      std::fprintf(stderr, "bench: cat failed\n");
      return 1;
    }
    cat_floor.push_back(Ms(Clock::now() - t0));
  }
  const double s = Median(scrape), floor = Median(read_floor), cat_ms = Median(cat_floor);
  const double s_cpu = Median(scrape_cpu), floor_cpu = Median(read_cpu);
  std::printf(
      "metrics scrape, %d running containers (cgroup %s, %zu files, %zu bytes of text), median "
      "of %d, wall (CPU):\n"
      "  berthd Scrape()           %7.2f ms (%6.2f ms)   (goal: under 20 ms; cgroup values from "
      "the background reads)\n"
      "  Scrape() reading all     %7.2f ms (%6.2f ms)   (every cgroup read at the scrape)\n"
      "  floor: open/read/close   %7.2f ms (%6.2f ms)   scrape/floor %.2fx (CPU %.2fx), reading "
      "all/floor %.2fx (CPU %.2fx)\n"
      "  floor: one cat of all    %7.2f ms             scrape/cat %.2fx\n",
      n, layout.unified ? "v2" : "v1", files.size(), bytes, runs, s, s_cpu, Median(reading_scrape),
      Median(reading_cpu), floor, floor_cpu, s / floor, s_cpu / floor_cpu,
      Median(reading_scrape) / floor, Median(reading_cpu) / floor_cpu, cat_ms, s / cat_ms);
  metrics.RemoveCollector(&containers);
  metrics.RemoveCollector(&process);
  return 0;
}
