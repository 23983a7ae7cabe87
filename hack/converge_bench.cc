// berth-bench-converge: how fast, and at what CPU, berthd brings up and tears
// down N containers dropped into (and removed from) its manifests
// directory, each figure next to floors measured in the same run:
//
//   1 loop    `runc run -d` of the N containers in one shell loop, then
//             `runc kill KILL` + `runc delete` of them (hack/runc_floor.h);
//   W loops   the same split over as many parallel loops as berthd has
//             workers (--workers, default berthd's: the number of cores);
//   berthd    N manifests renamed into the watched directory (busybox
//             `sleep`, imagePullPolicy Never, stopSignal SIGKILL as the
//             floor kills), timed until every status file says Running;
//             then every manifest unlinked, until every status file is gone;
//   podman    when podman is installed (--podman): `podman kube play
//             --network none` of the same containers as N one-container
//             Pods, then `podman kube down` (hack/podman_floor.h). Its
//             conmons and containers run in cgroups of podman's own: only
//             its machine CPU is printed.
//
// The sides take turns (--rounds; the order rotates) so that a machine
// whose speed drifts slows them alike. CPU is counted two ways:
//   * accounted: cpuacct usage of the processes of each side: the
//     benchmark runs in a cpuacct cgroup of its own (its children, runc and
//     berthd, inherit it; its own polling is subtracted), which holds the
//     floor's containers too (runc puts a container without cgroupsPath in
//     a cgroup named after it below its own); for berthd, plus its
//     --cgroup-parent (containers and monitors): others on the machine do
//     not count;
//   * machine: busy time from /proc/stat over the same interval (includes
//     everything else the machine does; printed with the load average).
// With every container running, each side also changes one container
// --changes times (a new manifest, or `runc kill`, `runc delete` and
// `runc run -d`) and crashes as many others, one each (a SIGKILL to its
// process, until it runs again; the floor waits for the exit by pidfd,
// then `runc delete` and `runc run -d`): latencies, not in the CPU figures.
// After each berthd converge, berthd's resident set and the monitors'
// private memory (smaps_rollup) are read, and berthd's again 12 s later,
// once it has given back the memory the converge freed.
//
//   build/hack/berth-bench-converge [--n=20,100,300] [--rounds=3]
//       [--changes=3] [--workers=0] [--berthd=...] [--monitor=...]
//       [--podman=auto|none|PATH] [--berthd_log=FILE] [--berthd_args=--a,--b]
//       [--perf_dir=DIR]
//
// With --perf_dir, each side's converge and removal (not the waits between
// them) is recorded by `perf record -a -g` (hack/perf_recording.h) into
// DIR/n<N>-r<round>-<side>.data, and the CPU of all rounds is printed by
// command; dig further with `perf report -i FILE --comm=COMMAND`. perf
// runs outside the accounted cgroup, but its sampling costs every side
// some CPU: the other figures of such a run are not for comparison.
//
// As root; the containers get no network (an empty --cni-conf-dir).
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "hack/perf_recording.h"
#include "hack/podman_floor.h"
#include "hack/runc_floor.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"
#include "tests/processes.h"
#include "tests/test_env.h"

ABSL_FLAG(std::string, n, "20,100,300", "container counts, comma-separated");
ABSL_FLAG(int, rounds, 3, "rounds of each count (each side once a round)");
ABSL_FLAG(int, changes, 3,
          "one container's spec changed this many times a round, the others running, and "
          "as many others crashed (SIGKILL) and restarted (the round's medians count)");
ABSL_FLAG(std::string, berthd_log, "", "copy berthd's log here at the end");
ABSL_FLAG(std::vector<std::string>, berthd_args, {},
          "more flags for berthd, comma-separated (e.g. --log_level=debug)");
ABSL_FLAG(int, workers, 0, "berthd's --workers and the parallel floor's loops (0: cores)");
ABSL_FLAG(std::string, berthd, BERTH_BERTHD_PATH, "the berthd to measure");
ABSL_FLAG(std::string, monitor, BERTH_MONITOR_PATH, "the berth-monitor berthd runs");
ABSL_FLAG(std::string, perf_dir, "",
          "record each side's converge and removal with `perf record -a -g` into this "
          "directory and print its CPU by command (perf perturbs the other figures)");
ABSL_FLAG(std::string, podman, "auto",
          "podman for a fourth side (kube play / kube down of the same containers as Pods): "
          "a path, auto (podman on PATH, if any) or none");

namespace berth {
namespace {

constexpr absl::Duration kSettle = absl::Seconds(12);

const char kCpuacct[] = "/sys/fs/cgroup/cpuacct";

// Nanoseconds of CPU charged to a cpuacct cgroup and its descendants (also
// the removed ones); 0 if it does not exist.
int64_t CgroupUsage(const std::string& cgroup) {
  std::ifstream in(absl::StrCat(kCpuacct, cgroup, "/cpuacct.usage"));
  int64_t ns = 0;
  in >> ns;
  return ns;
}

// Busy jiffies of the whole machine (/proc/stat: all but idle and iowait).
int64_t MachineBusyTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  int64_t v[8] = {};
  in >> cpu;
  for (int64_t& x : v) in >> x;
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

int64_t SelfCpuNs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000000LL +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1000LL;
}

// A kB figure of /proc/<pid>/<file> ("VmRSS:", "Private_Dirty:", ...).
int64_t ProcKb(pid_t pid, const char* file, const std::string& key) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", file));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, key)) {
      int64_t kb = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) return kb;
    }
  }
  return 0;
}

// CPU (ms) of `pid` itself (utime+stime) and of the children it waited for
// (cutime+cstime), from /proc/<pid>/stat.
struct ProcCpu {
  double self_ms = 0, children_ms = 0;
};
ProcCpu ProcessCpu(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  // Fields from the third (state) on; utime is the 14th.
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  int64_t v[4] = {};
  for (int i = 0; i < 4; ++i) {
    if (f.size() <= static_cast<size_t>(11 + i) || !absl::SimpleAtoi(f[11 + i], &v[i])) return {};
  }
  const double tick_ms = 1000.0 / sysconf(_SC_CLK_TCK);
  return {(v[0] + v[1]) * tick_ms, (v[2] + v[3]) * tick_ms};
}

std::vector<pid_t> CgroupPids(const std::string& dir) {
  std::vector<pid_t> pids;
  std::ifstream in(dir + "/cgroup.procs");
  pid_t p;
  while (in >> p) pids.push_back(p);
  return pids;
}

// What one side did for N containers.
struct Run {
  double up_ms = 0, down_ms = 0;
  double change_ms = 0;   // one container replaced while the others run (median)
  double crash_ms = 0;    // a crashed container running again, the others running (median)
  double cpu_ms = 0;      // accounted, up and down
  double machine_ms = 0;  // /proc/stat, up and down
  // berthd's side only, up and down (not the changes, crashes and the
  // settling between them): berthd's own CPU and that of the
  // children it waited for (runc delete); the rest of cpu_ms is the
  // monitors, the runc create they run, runc init and the containers.
  double berthd_ms = 0, berthd_children_ms = 0;
};

// CPU over an interval, both ways. `extra_ns` is what was charged outside
// the benchmark's own cgroup meanwhile (berthd's containers and monitors).
class CpuMeter {
 public:
  explicit CpuMeter(std::string driver) : driver_(std::move(driver)) {}
  // With a recording (--perf_dir), Begin turns its sampling on and End off;
  // the first failure to do so is kept (status()).
  void Record(bench::PerfRecording* perf) { perf_ = perf; }
  absl::Status status() const { return status_; }
  void Begin() {
    if (perf_ != nullptr) Keep(perf_->Enable());
    cg_ = CgroupUsage(driver_);
    self_ = SelfCpuNs();
    ticks_ = MachineBusyTicks();
  }
  // Adds the interval's CPU (ms) to *accounted and *machine.
  void End(int64_t extra_ns, double* accounted, double* machine) {
    const int64_t cg = CgroupUsage(driver_) - cg_ - (SelfCpuNs() - self_) + extra_ns;
    *accounted += cg / 1e6;
    *machine += (MachineBusyTicks() - ticks_) * 1000.0 / sysconf(_SC_CLK_TCK);
    if (perf_ != nullptr) Keep(perf_->Disable());
  }

 private:
  void Keep(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  std::string driver_;
  int64_t cg_ = 0, self_ = 0, ticks_ = 0;
  bench::PerfRecording* perf_ = nullptr;
  absl::Status status_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Crashes a round: one for each change, each of another container (never
// the first, the one changed), so that each is a first exit.
int Crashes(int n) { return std::min(absl::GetFlag(FLAGS_changes), n - 1); }

// The sides, in the order of `sides` below (--perf_dir's file names).
constexpr const char* kSideNames[] = {"loop", "loops", "berthd", "podman"};

int Fail(const std::string& what) {
  std::fprintf(stderr, "berth-bench-converge: %s\n", what.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it is measured
  std::vector<int> counts;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_n), ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1) return Fail(absl::StrCat("bad --n: ", s));
    counts.push_back(n);
  }
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  int workers = absl::GetFlag(FLAGS_workers);
  if (workers <= 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  testing::TestWorld world;
  const std::string rootfs = testing::BusyboxRootfs();
  // The benchmark's own cpuacct cgroup: its children (the floors' shells and
  // runc, berthd) inherit it. Left at the end, for the parent it was in.
  const std::string driver = absl::StrCat("/berth-bench-converge-", getpid());
  const std::string driver_dir = kCpuacct + driver;
  std::string old_cgroup;
  {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
      if (f.size() == 3 && absl::StrContains(f[1], "cpuacct")) old_cgroup = f[2];
    }
  }
  if (mkdir(driver_dir.c_str(), 0755) != 0)
    return Fail(absl::StrCat("cannot make ", driver_dir, " (cgroup v1 cpuacct is needed)"));
  auto move_self = [](const std::string& dir) {
    std::ofstream out(dir + "/cgroup.procs");
    out << getpid() << "\n";
    out.flush();
    return out.good();
  };
  if (!move_self(driver_dir)) return Fail("cannot join " + driver_dir);
  struct Leave {
    std::function<void()> f;
    ~Leave() { f(); }
  } leave{[&] {
    move_self(kCpuacct + old_cgroup);
    rmdir(driver_dir.c_str());
  }};

  // The floor's bundle: the same busybox `sleep` berthd runs.
  runtime::ContainerSpec spec;
  spec.rootfs_layers = {rootfs};
  spec.args = {"/bin/sleep", "1000000"};
  spec.id = "raw";
  absl::StatusOr<bench::RuncFloor> floor =
      bench::RuncFloor::Prepare(world.dir() + "/raw", spec, rootfs);
  if (!floor.ok()) return Fail(floor.status().ToString());

  // Podman, if there is one.
  std::optional<bench::PodmanFloor> podman;
  if (std::string path = absl::GetFlag(FLAGS_podman); path != "none") {
    if (path == "auto") path = bench::PodmanFloor::Find();
    if (!path.empty()) {
      absl::StatusOr<bench::PodmanFloor> p =
          bench::PodmanFloor::Prepare(path, world.dir() + "/podman", rootfs);
      if (!p.ok()) return Fail(p.status().ToString());
      podman = *std::move(p);
    }
  }

  // berthd, once, on an empty manifests directory.
  const std::string manifests = world.dir() + "/manifests";
  const std::string staging = world.dir() + "/staging";
  if (absl::Status s = world.AddBusyboxImage(); !s.ok()) return Fail(s.ToString());
  for (const std::string& d : {manifests, staging, world.cni_conf_dir()}) {
    if (!runtime::MakeDirs(d).ok()) return Fail("cannot make " + d);
  }
  testing::OwnedProcess berthd;
  std::vector<std::string> berthd_argv = {
      absl::GetFlag(FLAGS_berthd),
      "--manifests-dir=" + manifests,
      "--state-dir=" + world.berth_state_dir(),
      "--run-dir=" + world.run_dir(),
      "--images-dir=" + world.dir() + "/images",
      "--cgroup-parent=" + world.cgroup_parent(),
      "--monitor=" + absl::GetFlag(FLAGS_monitor),
      "--cni-conf-dir=" + world.cni_conf_dir(),
      absl::StrCat("--workers=", workers)};
  for (const std::string& a : absl::GetFlag(FLAGS_berthd_args)) berthd_argv.push_back(a);
  absl::Status started = berthd.Start(berthd_argv, world.dir() + "/berthd.log");
  if (!started.ok()) return Fail(started.ToString());
  const std::string status_dir = world.berth_state_dir() + "/status";
  absl::SleepFor(absl::Seconds(1));  // its start-up (first scan, relist)
  CpuMeter meter(driver);
  const std::string perf_dir = absl::GetFlag(FLAGS_perf_dir);
  std::string perf_path;
  if (!perf_dir.empty()) {
    perf_path = runtime::FindExecutable("perf");
    if (perf_path.empty()) return Fail("--perf_dir: no perf in $PATH");
    if (!runtime::MakeDirs(perf_dir).ok()) return Fail("cannot make " + perf_dir);
  }
  // Which of `names` have a status file saying Running; polled every 10 ms,
  // each file read until it says so.
  auto wait_all = [&](const std::vector<std::string>& names, bool running,
                      absl::Duration timeout) {
    std::vector<bool> done(names.size(), false);
    size_t left = names.size();
    const absl::Time deadline = absl::Now() + timeout;
    while (left > 0 && absl::Now() < deadline) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (done[i]) continue;
        const std::string f = absl::StrCat(status_dir, "/default.", names[i], ".json");
        bool ok;
        if (running) {
          absl::StatusOr<std::string> j = runtime::ReadFile(f);
          ok = j.ok() && j->find("\"Running\"") != std::string::npos;
        } else {
          ok = access(f.c_str(), F_OK) != 0;
        }
        if (ok) {
          done[i] = true;
          --left;
        }
      }
      if (left > 0) absl::SleepFor(absl::Milliseconds(10));
    }
    return left == 0;
  };
  // The cpuacct usage of the berthd side's cgroups (containers, monitors).
  const std::string berth_cgroup = world.cgroup_parent();

  double load[3] = {};
  getloadavg(load, 3);
  std::printf("berth-bench-converge: %d workers (and floor loops), %d rounds, load average "
              "%.2f %.2f %.2f at start\n",
              workers, rounds, load[0], load[1], load[2]);
  std::printf("%6s  %-22s %14s %14s %16s %16s\n", "N", "side", "up ms", "down ms",
              "CPU ms/ctr", "machine ms/ctr");
  int serial = 0;
  for (int n : counts) {
    std::vector<Run> seq, par, berth, pods;
    // With --perf_dir: each side's CPU ms by command, over all rounds.
    std::map<size_t, std::map<std::string, double>> profiles;
    int64_t rss_kb = 0, private_kb = 0, monitor_kb = 0, monitors = 0;
    // The same a while after the converge, once berthd has given back what
    // the burst freed (it looks every 10 s).
    int64_t settled_rss_kb = 0, settled_private_kb = 0;
    for (int r = 0; r < rounds; ++r) {
      // Side 0: one loop.
      auto one_loop = [&]() -> int {
        Run run;
        const std::string prefix = absl::StrCat("cv", getpid(), "-", ++serial, "-");
        meter.Begin();
        absl::StatusOr<absl::Duration> up = floor->RunAll(prefix, 0, n);
        if (!up.ok()) return Fail(up.status().ToString());
        meter.End(0, &run.cpu_ms, &run.machine_ms);
        // Change one (not in the CPU figures): its kill, delete and a new
        // `runc run -d`, the others running.
        std::vector<double> changes;
        for (int c = 0; c < absl::GetFlag(FLAGS_changes); ++c) {
          const absl::Time change = absl::Now();
          const std::string one = prefix + "0";
          if (absl::Status s = floor->KillDelete(one); !s.ok()) return Fail(s.ToString());
          if (absl::Status s = floor->RunOne(one).status(); !s.ok()) return Fail(s.ToString());
          changes.push_back(absl::ToDoubleMilliseconds(absl::Now() - change));
        }
        run.change_ms = Median(changes);
        // Crashes (not in the CPU figures): a SIGKILL to one container's
        // process, noticed, deleted and run again, each a different one.
        std::vector<double> crashes;
        for (int c = 0; c < Crashes(n); ++c) {
          absl::StatusOr<absl::Duration> took = floor->CrashRestart(absl::StrCat(prefix, 1 + c));
          if (!took.ok()) return Fail(took.status().ToString());
          crashes.push_back(absl::ToDoubleMilliseconds(*took));
        }
        run.crash_ms = Median(crashes);
        meter.Begin();
        absl::StatusOr<absl::Duration> down = floor->KillDeleteAll(prefix, 0, n);
        if (!down.ok()) return Fail(down.status().ToString());
        meter.End(0, &run.cpu_ms, &run.machine_ms);
        run.up_ms = absl::ToDoubleMilliseconds(*up);
        run.down_ms = absl::ToDoubleMilliseconds(*down);
        seq.push_back(run);
        return 0;
      };
      // Side 1: `workers` loops at once, the containers split between them.
      auto loops = [&]() -> int {
        Run run;
        const std::string prefix = absl::StrCat("cv", getpid(), "-", ++serial, "-");
        auto all = [&](bool up_phase, double* ms) -> bool {
          std::vector<std::thread> threads;
          std::vector<absl::Status> results(workers);
          const absl::Time begin = absl::Now();
          for (int w = 0; w < workers; ++w) {
            const int first = n * w / workers, count = n * (w + 1) / workers - first;
            threads.emplace_back([&, w, first, count] {
              if (count == 0) return;
              results[w] = up_phase ? floor->RunAll(prefix, first, count).status()
                                    : floor->KillDeleteAll(prefix, first, count).status();
            });
          }
          for (std::thread& t : threads) t.join();
          *ms = absl::ToDoubleMilliseconds(absl::Now() - begin);
          for (const absl::Status& s : results) {
            if (!s.ok()) return Fail(s.ToString()) == 0;
          }
          return true;
        };
        meter.Begin();
        if (!all(true, &run.up_ms)) return 1;
        meter.End(0, &run.cpu_ms, &run.machine_ms);
        meter.Begin();
        if (!all(false, &run.down_ms)) return 1;
        meter.End(0, &run.cpu_ms, &run.machine_ms);
        par.push_back(run);
        return 0;
      };
      // Side 2: berthd.
      auto manifest = [](const std::string& name, const char* seconds) {
        return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n"
                            "  name: ",
                            name,
                            "\nspec:\n  image: busybox\n  imagePullPolicy: Never\n"
                            "  command: [/bin/sleep, \"",
                            seconds,
                            "\"]\n  stopSignal: SIGKILL\n"
                            "  terminationGracePeriodSeconds: 1\n");
      };
      auto berthd_side = [&]() -> int {
        Run run;
        std::vector<std::string> names;
        const int s = ++serial;
        for (int i = 0; i < n; ++i) {
          names.push_back(absl::StrCat("c", s, "-", i));
          absl::Status w = runtime::WriteFileAtomic(
              absl::StrCat(staging, "/", names.back(), ".yaml"), manifest(names.back(), "1000000"));
          if (!w.ok()) return Fail(w.ToString());
        }
        const int64_t berth_before = CgroupUsage(berth_cgroup);
        const ProcCpu berthd_before = ProcessCpu(berthd.pid());
        meter.Begin();
        const absl::Time begin = absl::Now();
        for (const std::string& name : names) {
          const std::string from = absl::StrCat(staging, "/", name, ".yaml");
          const std::string to = absl::StrCat(manifests, "/", name, ".yaml");
          if (rename(from.c_str(), to.c_str()) != 0) return Fail("rename " + from);
        }
        if (!wait_all(names, true, absl::Seconds(60) + absl::Milliseconds(200) * n))
          return Fail(absl::StrCat("berthd did not run all ", n, " (see ", world.dir(),
                                   "/berthd.log)"));
        run.up_ms = absl::ToDoubleMilliseconds(absl::Now() - begin);
        meter.End(CgroupUsage(berth_cgroup) - berth_before, &run.cpu_ms, &run.machine_ms);
        const ProcCpu berthd_up = ProcessCpu(berthd.pid());
        // Memory, once converged (outside the timed part).
        const absl::Time converged = absl::Now();
        rss_kb = std::max(rss_kb, ProcKb(berthd.pid(), "status", "VmRSS:"));
        private_kb = std::max(private_kb, ProcKb(berthd.pid(), "smaps_rollup", "Private_Clean:") +
                                              ProcKb(berthd.pid(), "smaps_rollup", "Private_Dirty:"));
        int64_t kb = 0, count = 0;
        // Every monitor runs in the one cgroup of them all.
        const std::string mon_dir = absl::StrCat("/sys/fs/cgroup/pids", berth_cgroup, "/_monitors");
        for (pid_t p : CgroupPids(mon_dir)) {
          kb += ProcKb(p, "smaps_rollup", "Private_Clean:") +
                ProcKb(p, "smaps_rollup", "Private_Dirty:");
          ++count;
        }
        monitor_kb += kb;
        monitors += count;
        // The pid in container `name`'s status file while its phase is
        // Running, else 0.
        auto pid_of = [&](const std::string& name) -> int64_t {
          absl::StatusOr<std::string> text =
              runtime::ReadFile(absl::StrCat(status_dir, "/default.", name, ".json"));
          if (!text.ok()) return 0;
          const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
          if (!j.is_object() || j.value("phase", "") != "Running") return 0;
          const auto pid = j.find("pid");
          return pid != j.end() && pid->is_number_integer() ? pid->get<int64_t>() : 0;
        };
        // Until container `name` runs with a pid other than `old_pid`.
        auto replaced = [&](const std::string& name, int64_t old_pid, absl::Time deadline) {
          int64_t pid = old_pid;
          while ((pid == old_pid || pid <= 0) && absl::Now() < deadline) {
            absl::SleepFor(absl::Milliseconds(1));
            pid = pid_of(name);
          }
          return pid != old_pid && pid > 0;
        };
        // Change one: a new spec renamed over the first manifest, until its
        // status says Running with another pid (not in the CPU figures).
        {
          std::vector<double> changes;
          for (int c = 0; c < absl::GetFlag(FLAGS_changes); ++c) {
            const int64_t old_pid = pid_of(names[0]);
            const std::string from = absl::StrCat(staging, "/", names[0], ".yaml");
            const std::string seconds = absl::StrCat(1000001 + c);
            if (old_pid <= 0 ||
                !runtime::WriteFileAtomic(from, manifest(names[0], seconds.c_str())).ok())
              return Fail("cannot change " + names[0]);
            const absl::Time change = absl::Now();
            if (rename(from.c_str(), absl::StrCat(manifests, "/", names[0], ".yaml").c_str()) != 0)
              return Fail("rename " + from);
            if (!replaced(names[0], old_pid, change + absl::Seconds(30)))
              return Fail("berthd did not replace " + names[0]);
            changes.push_back(absl::ToDoubleMilliseconds(absl::Now() - change));
          }
          run.change_ms = Median(changes);
        }
        // Crashes: a SIGKILL to a container's process (a first exit, so
        // restarted at once, as kubelet does), until its status says
        // Running with another pid. Not in the CPU figures.
        {
          std::vector<double> crashes;
          for (int c = 0; c < Crashes(n); ++c) {
            const std::string& name = names[1 + c];
            const int64_t old_pid = pid_of(name);
            absl::StatusOr<runtime::UniqueFd> process =
                runtime::OpenPidFd(old_pid, runtime::ProcessStartTime(old_pid));
            if (old_pid <= 0 || !process.ok()) return Fail("cannot find the process of " + name);
            const absl::Time crash = absl::Now();
            if (!runtime::SignalPidFd(*process, SIGKILL).ok()) return Fail("cannot kill " + name);
            if (!replaced(name, old_pid, crash + absl::Seconds(30)))
              return Fail("berthd did not restart " + name);
            crashes.push_back(absl::ToDoubleMilliseconds(absl::Now() - crash));
          }
          run.crash_ms = Median(crashes);
        }
        absl::SleepFor(converged + kSettle - absl::Now());
        settled_rss_kb = std::max(settled_rss_kb, ProcKb(berthd.pid(), "status", "VmRSS:"));
        settled_private_kb =
            std::max(settled_private_kb, ProcKb(berthd.pid(), "smaps_rollup", "Private_Clean:") +
                                             ProcKb(berthd.pid(), "smaps_rollup", "Private_Dirty:"));
        const int64_t berth_mid = CgroupUsage(berth_cgroup);
        const ProcCpu berthd_mid = ProcessCpu(berthd.pid());
        meter.Begin();
        const absl::Time down = absl::Now();
        for (const std::string& name : names) {
          const std::string file = absl::StrCat(manifests, "/", name, ".yaml");
          if (unlink(file.c_str()) != 0) return Fail("unlink " + file);
        }
        if (!wait_all(names, false, absl::Seconds(60) + absl::Milliseconds(200) * n))
          return Fail(absl::StrCat("berthd did not remove all ", n, " (see ", world.dir(),
                                   "/berthd.log)"));
        run.down_ms = absl::ToDoubleMilliseconds(absl::Now() - down);
        meter.End(CgroupUsage(berth_cgroup) - berth_mid, &run.cpu_ms, &run.machine_ms);
        const ProcCpu berthd_after = ProcessCpu(berthd.pid());
        run.berthd_ms = berthd_up.self_ms - berthd_before.self_ms + berthd_after.self_ms -
                        berthd_mid.self_ms;
        run.berthd_children_ms = berthd_up.children_ms - berthd_before.children_ms +
                                 berthd_after.children_ms - berthd_mid.children_ms;
        berth.push_back(run);
        return 0;
      };
      // Side 3: podman, if there is one: kube play of the N as Pods, then
      // kube down. Its conmons and containers are in cgroups of podman's
      // own, so only the machine's CPU counts.
      auto podman_side = [&]() -> int {
        Run run;
        const std::string prefix = absl::StrCat("pm", getpid(), "-", ++serial, "-");
        meter.Begin();
        absl::StatusOr<absl::Duration> up = podman->PlayAll(prefix, n, spec.args);
        if (!up.ok()) return Fail(up.status().ToString());
        double accounted = 0;
        meter.End(0, &accounted, &run.machine_ms);
        meter.Begin();
        absl::StatusOr<absl::Duration> down = podman->DownAll(prefix);
        if (!down.ok()) return Fail(down.status().ToString());
        meter.End(0, &accounted, &run.machine_ms);
        run.up_ms = absl::ToDoubleMilliseconds(*up);
        run.down_ms = absl::ToDoubleMilliseconds(*down);
        pods.push_back(run);
        return 0;
      };
      std::vector<std::function<int()>> sides = {one_loop, loops, berthd_side};
      if (podman.has_value()) sides.push_back(podman_side);
      for (size_t k = 0; k < sides.size(); ++k) {
        const size_t side = (r + k) % sides.size();
        int failed = 0;
        std::unique_ptr<bench::PerfRecording> perf;
        const std::string perf_data =
            absl::StrCat(perf_dir, "/n", n, "-r", r, "-", kSideNames[side], ".data");
        if (!perf_dir.empty()) {
          // Outside the benchmark's cgroup: its CPU is not the side's.
          absl::StatusOr<std::unique_ptr<bench::PerfRecording>> started =
              bench::PerfRecording::Start(perf_path, perf_data,
                                          kCpuacct + old_cgroup + "/cgroup.procs");
          if (started.ok()) {
            perf = *std::move(started);
            meter.Record(perf.get());
          } else {
            failed = Fail(started.status().ToString());
          }
        }
        if (failed == 0) failed = sides[side]();
        meter.Record(nullptr);
        if (failed == 0 && perf != nullptr) {
          absl::Status s = meter.status();
          if (s.ok()) s = perf->Finish();
          absl::StatusOr<std::map<std::string, double>> by_command =
              s.ok() ? bench::CpuMsByCommand(perf_path, perf_data) : s;
          // A recording of the side must hold its work: berthd's, berthd.
          if (by_command.ok() &&
              (by_command->empty() ||
               (kSideNames[side] == std::string("berthd") && by_command->count("berthd") == 0))) {
            by_command =
                absl::InternalError(absl::StrCat(perf_data, " holds no sample of the side's work"));
          }
          if (!by_command.ok()) {
            failed = Fail(by_command.status().ToString());
          } else {
            for (const auto& [command, ms] : *by_command) profiles[side][command] += ms;
          }
        }
        if (failed != 0) {
          floor->ForceRemove().IgnoreError();
          if (podman.has_value()) podman->Remove().IgnoreError();
          berthd.Stop(SIGTERM);
          world.RemoveContainers();
          return 1;
        }
      }
    }
    auto print = [&](const char* side, const std::vector<Run>& runs) {
      std::vector<double> up, down, cpu, machine;
      for (const Run& r : runs) {
        up.push_back(r.up_ms);
        down.push_back(r.down_ms);
        cpu.push_back(r.cpu_ms / n);
        machine.push_back(r.machine_ms / n);
      }
      std::printf("%6d  %-22s %14.0f %14.0f %16.2f %16.2f\n", n, side, Median(up), Median(down),
                  Median(cpu), Median(machine));
    };
    print("runc, 1 loop", seq);
    print(absl::StrCat("runc, ", workers, " loops").c_str(), par);
    print("berthd", berth);
    if (podman.has_value()) {
      std::vector<double> up, down, machine;
      for (const Run& r : pods) {
        up.push_back(r.up_ms);
        down.push_back(r.down_ms);
        machine.push_back(r.machine_ms / n);
      }
      std::printf("%6d  %-22s %14.0f %14.0f %16s %16.2f\n", n, "podman kube play/down",
                  Median(up), Median(down), "-", Median(machine));
    }
    // Ratios per round (the sides of one round ran next to each other).
    auto ratio = [&](const std::vector<Run>& floor_runs, auto field) {
      std::vector<double> v;
      for (size_t i = 0; i < berth.size(); ++i) v.push_back(field(berth[i]) / field(floor_runs[i]));
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      return absl::StrFormat("%.2fx (%.2f-%.2f)", Median(v), *lo, *hi);
    };
    auto up = [](const Run& r) { return r.up_ms; };
    auto down = [](const Run& r) { return r.down_ms; };
    auto cpu = [](const Run& r) { return r.cpu_ms; };
    auto change = [](const Run& r) { return r.change_ms; };
    auto crash = [](const Run& r) { return r.crash_ms; };
    std::vector<double> berth_change, raw_change, berth_crash, raw_crash;
    for (const Run& r : berth) berth_change.push_back(r.change_ms);
    for (const Run& r : seq) raw_change.push_back(r.change_ms);
    for (const Run& r : berth) berth_crash.push_back(r.crash_ms);
    for (const Run& r : seq) raw_crash.push_back(r.crash_ms);
    std::printf("%6d  change one, the others running: berthd %.0f ms (manifest renamed to the "
                "new one running), runc kill+delete+run %.0f ms: %s\n",
                n, Median(berth_change), Median(raw_change), ratio(seq, change).c_str());
    if (Crashes(n) > 0) {
      std::printf("%6d  crash and restart, the others running: berthd %.0f ms (SIGKILL to the "
                  "new one running), runc wait+delete+run %.0f ms: %s\n",
                  n, Median(berth_crash), Median(raw_crash), ratio(seq, crash).c_str());
    }
    std::printf("%6d  berthd / 1 loop:  up %s, down %s, CPU %s\n", n, ratio(seq, up).c_str(),
                ratio(seq, down).c_str(), ratio(seq, cpu).c_str());
    std::printf("%6d  berthd / %d loops: up %s, down %s, CPU %s\n", n, workers,
                ratio(par, up).c_str(), ratio(par, down).c_str(), ratio(par, cpu).c_str());
    if (podman.has_value()) {
      auto machine = [](const Run& r) { return r.machine_ms; };
      std::printf("%6d  berthd / podman:  up %s, down %s, machine CPU %s\n", n,
                  ratio(pods, up).c_str(), ratio(pods, down).c_str(),
                  ratio(pods, machine).c_str());
    }
    {
      std::vector<double> own, children, rest;
      for (const Run& r : berth) {
        own.push_back(r.berthd_ms / n);
        children.push_back(r.berthd_children_ms / n);
        rest.push_back((r.cpu_ms - r.berthd_ms - r.berthd_children_ms) / n);
      }
      std::printf("%6d  berthd's CPU a container: berthd itself %.2f ms, the runc it ran %.2f ms, "
                  "the rest (monitors, their runc create, runc init, containers) %.2f ms\n",
                  n, Median(own), Median(children), Median(rest));
    }
    for (const auto& [side, by_command] : profiles) {
      std::vector<std::pair<double, std::string>> top;
      double total = 0;
      for (const auto& [command, ms] : by_command) {
        top.emplace_back(ms / (rounds * n), command);
        total += ms / (rounds * n);
      }
      std::sort(top.rbegin(), top.rend());
      std::string line;
      double shown = 0;
      for (size_t i = 0; i < top.size() && i < 8; ++i) {
        absl::StrAppendFormat(&line, ", %s %.2f", top[i].second, top[i].first);
        shown += top[i].first;
      }
      std::printf("%6d  perf, %s: %.2f ms a container in all%s, others %.2f\n", n, kSideNames[side],
                  total, line.c_str(), total - shown);
    }
    std::printf("%6d  berthd with %d running: resident %.1f MB, private %.1f MB; monitors %.0f kB "
                "private each\n",
                n, n, rss_kb / 1024.0, private_kb / 1024.0,
                monitors > 0 ? static_cast<double>(monitor_kb) / monitors : 0);
    std::printf("%6d  berthd %.0f s after the converge: resident %.1f MB, private %.1f MB\n", n,
                absl::ToDoubleSeconds(kSettle), settled_rss_kb / 1024.0,
                settled_private_kb / 1024.0);
  }
  getloadavg(load, 3);
  std::printf("load average %.2f %.2f %.2f at the end\n", load[0], load[1], load[2]);
  berthd.Stop(SIGTERM);
  if (const std::string copy = absl::GetFlag(FLAGS_berthd_log); !copy.empty()) {
    std::error_code ec;
    std::filesystem::copy_file(world.dir() + "/berthd.log", copy,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) std::printf("cannot copy berthd's log to %s: %s\n", copy.c_str(), ec.message().c_str());
  }
  std::vector<std::string> leaks;
  if (podman.has_value()) {
    if (absl::Status s = podman->Remove(); !s.ok()) leaks.push_back(s.ToString());
  }
  for (std::string& l : world.Leaks()) leaks.push_back(std::move(l));
  if (absl::Status s = floor->Remove(); !s.ok()) leaks.push_back(s.ToString());
  for (const auto& l : leaks) std::printf("LEAK: %s\n", l.c_str());
  return leaks.empty() ? 0 : 1;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
