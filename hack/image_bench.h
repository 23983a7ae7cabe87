// The image side of hack/bench, each next to a floor measured in the same
// run:
//   BenchPull:           per round, into empty directories: Puller::Pull
//                        (fetch and verify every blob), RegistryImageStore::
//                        Resolve with kAlways on an empty root (the pull plus
//                        Snapshotter::Prepare of every layer: the image is
//                        ready to run), and `skopeo copy docker://REF dir:DIR`
//                        (fetch and verify, no unpacking).
//   BenchTimeToRunning:  with the image already pulled and unpacked, per
//                        container: Resolve (kIfNotPresent, no pull) +
//                        BuildContainerSpec + RuncRuntime Create + Start,
//                        next to `runc run -d` on a bundle prepared over a
//                        copy of the same layer (RuncFloor). Stop and Delete
//                        happen outside the timed part.
// Everything they write goes below `work_dir` and is removed before they
// return, whether they succeed or not.
#ifndef BERTH_HACK_IMAGE_BENCH_H_
#define BERTH_HACK_IMAGE_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/runc_runtime.h"

namespace berth::bench {

// Seconds of each method in one round.
struct PullRound {
  double pull_s = 0;         // Puller::Pull
  double pull_unpack_s = 0;  // RegistryImageStore::Resolve, kAlways, empty root
  double skopeo_s = 0;       // skopeo copy to a dir
};

struct PullBenchResult {
  std::string reference;
  int layers = 0;
  int64_t bytes = 0;  // compressed: manifest, config and layer blobs as pulled
  std::vector<PullRound> rounds;
};

struct PullBenchOptions {
  // A plain-HTTP registry ("127.0.0.1:port") and an image in it.
  std::string registry;
  std::string reference;
  std::string work_dir;
  int rounds = 3;
  // When set, the last round's content store (Puller's) is left here.
  std::string keep_store;
};

absl::StatusOr<PullBenchResult> BenchPull(const PullBenchOptions& options);

// Milliseconds per container, in the order measured (raw and berth
// alternate).
struct RunBenchResult {
  std::string reference;
  std::vector<double> berth_ms;
  std::vector<double> raw_ms;
};

struct RunBenchOptions {
  std::string registry;
  std::string reference;  // a one-layer image whose /bin/sleep runs
  std::string work_dir;
  // The runtime measured (its state dir, runc root and cgroup parent).
  runtime::RuncRuntimeOptions runtime;
  int n = 20;
};

absl::StatusOr<RunBenchResult> BenchTimeToRunning(const RunBenchOptions& options);

// The nearest-rank percentile (0 < p <= 100) of `v`; 0 when empty.
double Percentile(std::vector<double> v, double p);

// The figures as hack/bench prints them, saying what each includes.
std::string FormatPull(const PullBenchResult& r);
std::string FormatRun(const RunBenchResult& r);

}  // namespace berth::bench

#endif  // BERTH_HACK_IMAGE_BENCH_H_
