// What the runtime benchmarks (bench.cc, net_bench.cc) share: a floor and
// Berth's layer taking turns over rounds, and the table line of their times.
#ifndef BERTH_HACK_BENCH_TOTALS_H_
#define BERTH_HACK_BENCH_TOTALS_H_

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace berth::bench {

inline double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Containers in round r when n are split over `rounds`.
inline int Batch(int n, int rounds, int r) { return n / rounds + (r < n % rounds ? 1 : 0); }

// Wall times of the floor and the layer over the rounds.
struct Totals {
  absl::Duration raw, layer;
  std::vector<double> ratios;

  template <typename Raw, typename Layer>
  void Add(int round, Raw run_raw, Layer run_layer) {
    absl::Duration r, l;
    if (round % 2 == 0) {
      r = run_raw();
      l = run_layer();
    } else {
      l = run_layer();
      r = run_raw();
    }
    raw += r;
    layer += l;
    ratios.push_back(Ms(l) / Ms(r));
  }

  // The ratio of the totals; then the rounds' median ratio and range (a
  // pause of the machine during one round shows there, not in the median).
  void Print(const char* what, int n) const {
    std::string rounds;
    if (!ratios.empty()) {
      std::vector<double> sorted = ratios;
      std::sort(sorted.begin(), sorted.end());
      const size_t m = sorted.size() / 2;
      const double median = sorted.size() % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
      rounds = absl::StrFormat("   %5.2fx  %.2f-%.2f", median, sorted.front(), sorted.back());
    }
    std::printf("%-22s %9.1f ms %9.1f ms %7.2fx%s\n", what, Ms(raw) / n, Ms(layer) / n,
                Ms(layer) / Ms(raw), rounds.c_str());
  }
};

}  // namespace berth::bench

#endif  // BERTH_HACK_BENCH_TOTALS_H_
