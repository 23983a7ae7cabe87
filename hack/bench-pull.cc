// berth-bench-pull: the image side of hack/bench (hack/image_bench.h), each
// next to its floor in the same run. Starts a docker-registry on 127.0.0.1
// and pushes the test images (hack/make-test-images), then
//   - pull and pull+unpack of --image (default the ~100 MB, 5-layer big:1)
//     into empty directories next to `skopeo copy docker://... dir:...`:
//     medians of --rounds, MB/s of the compressed size and time ratios;
//   - time to running of --run_image (default busybox:1) once it is pulled
//     and unpacked, next to `runc run -d`: median and p90 of --n containers.
// Exits non-zero if anything of its runtime is left behind.
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_join.h"
#include "hack/image_bench.h"
#include "spdlog/spdlog.h"
#include "tests/registry_env.h"
#include "tests/test_env.h"

ABSL_FLAG(int, rounds, 3, "pull rounds (the median is reported)");
ABSL_FLAG(std::string, image, "big",
          "test image pulled (hack/make-test-images; big is built with --big)");
ABSL_FLAG(int, n, 20, "containers started from the pulled image");
ABSL_FLAG(std::string, run_image, "busybox", "one-layer test image the containers run");
ABSL_FLAG(std::string, keep_store, "",
          "leave the last round's content store here (for later steps, e.g. unpacking)");

namespace berth {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "bench-pull: %s\n", s.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const std::string pulled = absl::GetFlag(FLAGS_image), run = absl::GetFlag(FLAGS_run_image);
  auto env = testing::RegistryEnv::Start();
  if (!env.ok()) return Fail(env.status());
  std::printf("bench-pull: building and pushing %s:1 and %s:1 ...\n", pulled.c_str(), run.c_str());
  std::fflush(stdout);
  if (absl::Status s = (*env)->PushTestImages({pulled, run}, pulled == "big"); !s.ok())
    return Fail(s);

  testing::TestWorld world;
  bench::PullBenchOptions po;
  po.registry = (*env)->host();
  po.reference = (*env)->host() + "/" + pulled + ":1";
  po.work_dir = world.dir();
  po.rounds = absl::GetFlag(FLAGS_rounds);
  po.keep_store = absl::GetFlag(FLAGS_keep_store);
  absl::StatusOr<bench::PullBenchResult> p = bench::BenchPull(po);
  if (!p.ok()) return Fail(p.status());
  std::printf("%s", bench::FormatPull(*p).c_str());
  if (!po.keep_store.empty()) std::printf("  store kept at %s\n", po.keep_store.c_str());
  std::fflush(stdout);

  bench::RunBenchOptions ro;
  ro.registry = po.registry;
  ro.reference = (*env)->host() + "/" + run + ":1";
  ro.work_dir = world.dir();
  ro.runtime = world.RuntimeOptions();
  ro.n = absl::GetFlag(FLAGS_n);
  absl::StatusOr<bench::RunBenchResult> r = bench::BenchTimeToRunning(ro);
  if (!r.ok()) return Fail(r.status());
  std::printf("%s", bench::FormatRun(*r).c_str());
  if (std::vector<std::string> leaks = world.Leaks(); !leaks.empty()) {
    return Fail(absl::InternalError("left behind: " + absl::StrJoin(leaks, "; ")));
  }
  return 0;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
