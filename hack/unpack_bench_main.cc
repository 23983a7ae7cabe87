// berth-bench-unpack: unpack throughput of a layer set next to tar -x.
//   berth-bench-unpack [--rounds=N] [--scratch=DIR] [--ref=NAME] OCI_LAYOUT_DIR
//   berth-bench-unpack [--rounds=N] [--scratch=DIR] BLOB...
// Prints MB/s of uncompressed tar data for UnpackLayer on the blobs as
// stored, UnpackLayer on the decompressed tars and `tar -x` on those, and
// the berth/tar time ratio on the same (decompressed) input.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "hack/unpack_bench.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int, rounds, 3, "rounds per method (best is reported)");
ABSL_FLAG(std::string, scratch, "", "scratch directory (default: a temporary one under /var/tmp)");
ABSL_FLAG(std::string, ref, "", "manifest ref name in the OCI layout (default: the first)");

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  if (args.size() < 2) {
    std::fprintf(stderr, "usage: %s [flags] OCI_LAYOUT_DIR | BLOB...\n", args[0]);
    return 2;
  }
  std::string scratch = absl::GetFlag(FLAGS_scratch);
  bool own_scratch = false;
  if (scratch.empty()) {
    char tmpl[] = "/var/tmp/berth-bench-unpack-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    scratch = tmpl;
    own_scratch = true;
  }
  struct stat st;
  absl::StatusOr<std::vector<berth::snapshot::LayerBlob>> layers;
  if (args.size() == 2 && stat(args[1], &st) == 0 && S_ISDIR(st.st_mode)) {
    layers = berth::bench::LayersFromOciLayout(args[1], absl::GetFlag(FLAGS_ref));
  } else {
    layers = berth::bench::LayersFromBlobs({args.begin() + 1, args.end()}, scratch);
  }
  absl::StatusOr<berth::bench::UnpackBenchResult> r =
      layers.ok() ? berth::bench::BenchUnpack(*layers, scratch, absl::GetFlag(FLAGS_rounds))
                  : absl::StatusOr<berth::bench::UnpackBenchResult>(layers.status());
  if (own_scratch) berth::runtime::RemoveTree(scratch).IgnoreError();
  if (!r.ok()) {
    std::fprintf(stderr, "berth-bench-unpack: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("layers %d, %.1f MB stored, %.1f MB uncompressed\n", r->layers, r->blob_bytes / 1e6,
              r->tar_bytes / 1e6);
  std::printf("berth unpack (as stored):    %8.3f s  %8.1f MB/s\n", r->berth_compressed_s,
              r->MBps(r->berth_compressed_s));
  std::printf("berth unpack (decompressed): %8.3f s  %8.1f MB/s\n", r->berth_plain_s,
              r->MBps(r->berth_plain_s));
  std::printf("tar -x (decompressed):       %8.3f s  %8.1f MB/s\n", r->tar_plain_s,
              r->MBps(r->tar_plain_s));
  std::printf("ratio berth/tar (same input): %.2f\n", r->Ratio());
  return 0;
}
