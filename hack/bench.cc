// berth-bench: per-container cost of the runtime layer next to the raw runc
// floor, measured in the same run on the same rootfs.
//   floor:  `runc run -d` for N containers in a shell loop; then `runc kill
//           KILL` for all and `runc delete` for all, in shell loops.
//   layer:  RuncRuntime Create+Start for N; then Stop+Delete for N.
// Prints milliseconds per container and the layer/floor ratio.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "hack/runc_floor.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"
#include "tests/test_env.h"

ABSL_FLAG(int, n, 50, "containers per round");

namespace berth {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

absl::Duration OrExit(absl::StatusOr<absl::Duration> d) {
  if (!d.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(d.status().message()).c_str());
    std::exit(1);
  }
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
  testing::TestWorld world;
  const std::string rootfs = testing::BusyboxRootfs();

  // The raw floor: one bundle, N containers (hack/runc_floor.h).
  runtime::ContainerSpec spec;
  spec.id = "raw";
  spec.rootfs_layers = {rootfs};
  spec.args = {"/bin/sleep", "1000"};
  absl::StatusOr<bench::RuncFloor> floor = bench::RuncFloor::Prepare(world.dir() + "/raw", spec, rootfs);
  if (!floor.ok()) return std::fprintf(stderr, "bench: %s\n", floor.status().ToString().c_str()), 1;
  const std::string raw = absl::StrCat("raw-", getpid(), "-");  // runc's cgroup is /<id>
  const absl::Duration raw_up = OrExit(floor->RunAll(raw, n));
  const absl::Duration raw_down = OrExit(floor->KillDeleteAll(raw, n));
  const std::string runc = floor->runc();

  // The layer.
  auto rt = runtime::RuncRuntime::Open(world.RuntimeOptions());
  if (!rt.ok()) {
    std::fprintf(stderr, "bench: %s\n", rt.status().ToString().c_str());
    return 1;
  }
  absl::Duration layer_create, layer_start;
  absl::Time begin = absl::Now();
  for (int i = 0; i < n; ++i) {
    spec.id = absl::StrCat("layer-", i);
    spec.stop_signal = SIGKILL;
    const absl::Time t0 = absl::Now();
    if (absl::Status s = (*rt)->Create(spec); !s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
    const absl::Time t1 = absl::Now();
    if (absl::Status s = (*rt)->Start(spec.id); !s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
    layer_create += t1 - t0;
    layer_start += absl::Now() - t1;
  }
  const absl::Duration layer_up = absl::Now() - begin;

  long rss = 0, priv = 0;
  auto pids = testing::ProcessesMentioning(world.state_dir() + "/layer-0/");
  for (int pid : pids) {
    auto comm = runtime::ReadFile(absl::StrCat("/proc/", pid, "/comm"));
    if (comm.ok() && comm->rfind("berth-monitor", 0) == 0) std::tie(rss, priv) = Memory(pid);
  }

  begin = absl::Now();
  for (int i = 0; i < n; ++i) {
    const std::string id = absl::StrCat("layer-", i);
    if (absl::Status s = (*rt)->Stop(id, absl::ZeroDuration()); !s.ok()) return 1;
    if (absl::Status s = (*rt)->Delete(id); !s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  const absl::Duration layer_down = absl::Now() - begin;
  rt->reset();
  floor->Remove().IgnoreError();

  std::printf("berth-bench: N=%d containers, busybox sleep, %s\n", n, runc.c_str());
  std::printf("%-22s %12s %12s %8s\n", "per container", "raw runc", "berth layer", "ratio");
  std::printf("%-22s %9.1f ms %9.1f ms %7.2fx\n", "create+start", Ms(raw_up) / n, Ms(layer_up) / n,
              Ms(layer_up) / Ms(raw_up));
  std::printf("%-22s %9.1f ms %9.1f ms %7.2fx\n", "stop+delete", Ms(raw_down) / n,
              Ms(layer_down) / n, Ms(layer_down) / Ms(raw_down));
  std::printf("%-22s %9.1f ms %9.1f ms %7.2fx\n", "whole lifecycle", Ms(raw_up + raw_down) / n,
              Ms(layer_up + layer_down) / n, Ms(layer_up + layer_down) / Ms(raw_up + raw_down));
  std::printf("  layer create %.1f ms + start %.1f ms\n", Ms(layer_create) / n, Ms(layer_start) / n);
  std::printf("monitor memory: VmRSS %ld kB, private %ld kB (the rest is the shared binary)\n", rss, priv);
  std::vector<std::string> leaks = world.Leaks();
  for (const auto& l : leaks) std::printf("LEAK: %s\n", l.c_str());
  return leaks.empty() ? 0 : 1;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
