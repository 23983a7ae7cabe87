// berth-bench: per-container cost of the runtime layer next to the raw runc
// floor, measured in the same run on the same rootfs.
//   floor:  `runc run -d` for a batch of containers in a shell loop; later
//           `runc kill KILL` for the batch and `runc delete` for it, in shell
//           loops.
//   layer:  RuncRuntime Create+Start for a batch; later Stop+Delete for it.
// N containers each, in batches the two take turns at (--rounds). Prints
// milliseconds per container, the layer/floor ratio of the totals, and the
// median and range of the rounds' ratios.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hack/bench_totals.h"
#include "hack/runc_floor.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"
#include "tests/test_env.h"

ABSL_FLAG(int, n, 50, "containers in all");
ABSL_FLAG(int, rounds, 10, "turns the floor and the layer take");

namespace berth {
namespace {

using bench::Batch;
using bench::Ms;
using bench::Totals;

// A failed step: the run stops, and what it made is removed.
struct BenchFailure : std::runtime_error {
  explicit BenchFailure(const absl::Status& s) : std::runtime_error(s.ToString()) {}
};

void Check(const absl::Status& s) {
  if (!s.ok()) throw BenchFailure(s);
}

absl::Duration OrFail(absl::StatusOr<absl::Duration> d) {
  Check(d.status());
  return *d;
}

// Sum of VmRSS and of private (Private_Clean + Private_Dirty) kB of `pid`.
std::pair<long, long> Memory(int pid) {
  long rss = 0, priv = 0;
  auto status = runtime::ReadFile(absl::StrCat("/proc/", pid, "/status"), 1 << 16);
  if (status.ok()) {
    size_t at = status->find("VmRSS:");
    if (at != std::string::npos) rss = std::atol(status->c_str() + at + 6);
  }
  auto rollup = runtime::ReadFile(absl::StrCat("/proc/", pid, "/smaps_rollup"), 1 << 16);
  if (rollup.ok()) {
    for (const char* key : {"Private_Clean:", "Private_Dirty:"}) {
      size_t at = rollup->find(key);
      if (at != std::string::npos) priv += std::atol(rollup->c_str() + at + std::strlen(key));
    }
  }
  return {rss, priv};
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const int n = absl::GetFlag(FLAGS_n);
  const int rounds = std::max(1, std::min(n, absl::GetFlag(FLAGS_rounds)));
  testing::TestWorld world;
  const std::string rootfs = testing::BusyboxRootfs();

  // The raw floor: one bundle, N containers (hack/runc_floor.h).
  runtime::ContainerSpec spec;
  spec.id = "raw";
  spec.rootfs_layers = {rootfs};
  spec.args = {"/bin/sleep", "1000"};
  absl::StatusOr<bench::RuncFloor> floor =
      bench::RuncFloor::Prepare(world.dir() + "/raw", spec, rootfs);
  if (!floor.ok()) return std::fprintf(stderr, "bench: %s\n", floor.status().ToString().c_str()), 1;
  const std::string raw = absl::StrCat("raw-", getpid(), "-");  // runc's cgroup is /<id>
  const std::string runc = floor->runc();
  auto rt = runtime::RuncRuntime::Open(world.RuntimeOptions());
  if (!rt.ok()) {
    std::fprintf(stderr, "bench: %s\n", rt.status().ToString().c_str());
    return 1;
  }
  // The layer and the floor take turns, `rounds` times each, the first
  // place alternating: a machine whose speed drifts during the run slows
  // both alike. Each round is a batch of containers, as in the floor's loop.
  Totals up, down;
  absl::Duration layer_create, layer_start;
  long rss = 0, priv = 0;
  try {
    for (int r = 0, first = 0; r < rounds; first += Batch(n, rounds, r), ++r) {
      const int k = Batch(n, rounds, r);
      auto run_raw = [&] { return OrFail(floor->RunAll(raw, first, k)); };
      auto run_layer = [&] {
        const absl::Time begin = absl::Now();
        for (int i = first; i < first + k; ++i) {
          spec.id = absl::StrCat("layer-", i);
          spec.stop_signal = SIGKILL;
          const absl::Time t0 = absl::Now();
          Check((*rt)->Create(spec));
          const absl::Time t1 = absl::Now();
          Check((*rt)->Start(spec.id));
          layer_create += t1 - t0;
          layer_start += absl::Now() - t1;
        }
        return absl::Now() - begin;
      };
      up.Add(r, run_raw, run_layer);
    }

    auto pids = testing::ProcessesMentioning(world.state_dir() + "/layer-0/");
    for (int pid : pids) {
      auto comm = runtime::ReadFile(absl::StrCat("/proc/", pid, "/comm"));
      if (comm.ok() && comm->rfind("berth-monitor", 0) == 0) std::tie(rss, priv) = Memory(pid);
    }

    for (int r = 0, first = 0; r < rounds; first += Batch(n, rounds, r), ++r) {
      const int k = Batch(n, rounds, r);
      auto down_raw = [&] { return OrFail(floor->KillDeleteAll(raw, first, k)); };
      auto down_layer = [&] {
        const absl::Time begin = absl::Now();
        for (int i = first; i < first + k; ++i) {
          const std::string id = absl::StrCat("layer-", i);
          Check((*rt)->Stop(id, absl::ZeroDuration()));
          Check((*rt)->Delete(id));
        }
        return absl::Now() - begin;
      };
      down.Add(r, down_raw, down_layer);
    }
  } catch (const BenchFailure& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    if (auto all = (*rt)->List(); all.ok()) {
      for (const auto& c : *all) (*rt)->Delete(c.id).IgnoreError();
    }
    rt->reset();
    if (absl::Status s = floor->ForceRemove(); !s.ok()) {
      std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
    }
    return 1;
  }
  rt->reset();
  floor->Remove().IgnoreError();

  std::printf("berth-bench: N=%d containers in %d interleaved rounds, busybox sleep, %s\n", n,
              rounds, runc.c_str());
  std::printf("%-22s %12s %12s %8s   %6s  %s\n", "per container", "raw runc", "berth layer",
              "ratio", "median", "range of the rounds");
  up.Print("create+start", n);
  down.Print("stop+delete", n);
  Totals whole;
  whole.raw = up.raw + down.raw;
  whole.layer = up.layer + down.layer;
  whole.Print("whole lifecycle", n);
  std::printf("  layer create %.1f ms + start %.1f ms\n", Ms(layer_create) / n,
              Ms(layer_start) / n);
  std::printf("monitor memory: VmRSS %ld kB, private %ld kB (the rest is the shared binary)\n", rss,
              priv);
  std::vector<std::string> leaks = world.Leaks();
  for (const auto& l : leaks) std::printf("LEAK: %s\n", l.c_str());
  return leaks.empty() ? 0 : 1;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
