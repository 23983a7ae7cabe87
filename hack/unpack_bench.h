// Unpack throughput of a set of image layers: UnpackLayer (decompression,
// diff_id hashing and extraction in one pass) next to GNU `tar -x` of the
// same, already decompressed, tar streams, measured in the same run.
// For the pull benchmark: LayersFromOciLayout reads what `skopeo copy
// docker://… oci:DIR` wrote; BenchUnpack measures it.
#ifndef BERTH_HACK_UNPACK_BENCH_H_
#define BERTH_HACK_UNPACK_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/snapshot/snapshotter.h"

namespace berth::bench {

// The layers (base first, blob paths inside `dir`, diff_ids from the
// config) of the image in an OCI image layout. `ref` picks the manifest
// annotated org.opencontainers.image.ref.name=<ref>; "" takes the first.
// An image index picks linux/amd64, else its first manifest.
absl::StatusOr<std::vector<snapshot::LayerBlob>> LayersFromOciLayout(const std::string& dir,
                                                                     const std::string& ref = "");

// Blob files given by path: media type detected from the bytes, diff_id
// computed by decompressing them once (not timed).
absl::StatusOr<std::vector<snapshot::LayerBlob>> LayersFromBlobs(
    const std::vector<std::string>& paths, const std::string& scratch_dir);

struct UnpackBenchResult {
  int layers = 0;
  int64_t blob_bytes = 0;  // compressed, as stored
  int64_t tar_bytes = 0;   // uncompressed, what both extract
  // Best of the rounds, seconds for the whole layer set.
  double berth_compressed_s = 0;  // UnpackLayer on the blobs as stored
  double berth_plain_s = 0;       // UnpackLayer on the decompressed tars
  double tar_plain_s = 0;         // tar -x on the decompressed tars
  double MBps(double seconds) const { return seconds > 0 ? tar_bytes / 1e6 / seconds : 0; }
  // berth_plain_s / tar_plain_s: < 1 is faster than tar on the same input.
  double Ratio() const { return tar_plain_s > 0 ? berth_plain_s / tar_plain_s : 0; }
};

// Decompresses each layer into `scratch_dir` (not timed), then for
// `rounds` rounds unpacks the set into fresh directories there with each
// method (interleaved, the page cache warm for all), removing the output
// after each. kDataLoss if a diff_id does not match; tar's failure as
// kInternal.
absl::StatusOr<UnpackBenchResult> BenchUnpack(const std::vector<snapshot::LayerBlob>& layers,
                                              const std::string& scratch_dir, int rounds = 3);

}  // namespace berth::bench

#endif  // BERTH_HACK_UNPACK_BENCH_H_
