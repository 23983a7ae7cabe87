// A `perf record -a -g` of the whole machine whose sampling is turned on
// and off around the parts of a benchmark to profile (perf's control
// fifo), so that one file holds, say, a converge and its removal but not
// the waits between them.
#ifndef BERTH_HACK_PERF_RECORDING_H_
#define BERTH_HACK_PERF_RECORDING_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/sys/unique_fd.h"
#include "tests/processes.h"

namespace berth::bench {

class PerfRecording {
 public:
  // Starts `perf` (an absolute path) recording into `out`, sampling off;
  // its fifos and its log (`out`.log) are made beside `out`. With
  // `cgroup_procs`, perf is moved into that cgroup (out of the benchmark's
  // own, whose CPU it measures). Returns once perf answers on its control
  // fifo (at most 60 s).
  static absl::StatusOr<std::unique_ptr<PerfRecording>> Start(const std::string& perf,
                                                              const std::string& out,
                                                              const std::string& cgroup_procs);
  ~PerfRecording();  // kills a perf not finished; removes the fifos
  PerfRecording(const PerfRecording&) = delete;
  PerfRecording& operator=(const PerfRecording&) = delete;

  // Sampling on or off; each returns once perf has done it (at most 10 s),
  // at once with an error when perf is no longer running.
  absl::Status Enable() { return Command("enable"); }
  absl::Status Disable() { return Command("disable"); }
  // Stops perf (SIGINT) and waits for it to write the file (at most
  // `timeout`; then it is killed).
  absl::Status Finish(absl::Duration timeout = absl::Seconds(60));

 private:
  PerfRecording() = default;
  absl::Status Command(const char* what, absl::Duration timeout = absl::Seconds(10));

  testing::OwnedProcess perf_;
  std::string out_;
  runtime::UniqueFd ctl_, ack_;
};

// CPU milliseconds by command in a recording (`perf report --sort comm`),
// the idle task left out and a kernel thread's name cut at its '/'
// ("kworker/1:2" counts as "kworker").
absl::StatusOr<std::map<std::string, double>> CpuMsByCommand(const std::string& perf,
                                                             const std::string& data);

}  // namespace berth::bench

#endif  // BERTH_HACK_PERF_RECORDING_H_
