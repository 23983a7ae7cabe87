// What a container's cgroup says of its use of the node: CPU time, memory
// (usage and cAdvisor's working set) and pids, on cgroup v1 (one hierarchy
// per controller, e.g. /sys/fs/cgroup/cpu,cpuacct and /sys/fs/cgroup/memory)
// or v2 (the unified hierarchy).
//
// Where each controller's hierarchy is mounted is found once
// (CgroupLayout::Detect reads /proc/self/mountinfo); a Read then costs only
// the open/read/close of the few files it needs, with no allocation beyond
// its path strings: a scrape reads 1,000 containers in a few milliseconds.
// Nothing here runs runc. Paths are the OCI `cgroupsPath` the runtime gives
// a container (RuncRuntimeOptions::cgroup_parent + "/" + id).
//
// The values, as cAdvisor computes them:
//  * cpu_usage_seconds: v1 cpuacct.usage (ns); v2 cpu.stat usage_usec.
//  * memory_usage_bytes: v1 memory.usage_in_bytes; v2 memory.current.
//  * memory_working_set_bytes: usage minus the inactive file cache
//    (v1 memory.stat total_inactive_file, v2 memory.stat inactive_file),
//    0 when the cache is larger: what the kernel cannot easily reclaim,
//    what kubelet evicts on and what the OOM killer looks at.
//  * pids: v1 and v2 pids.current.
// A value whose controller is not mounted, or whose file is missing or
// unreadable, is unset; Read fails only when no file at all could be read.
#ifndef BERTH_RUNTIME_CGROUP_STATS_H_
#define BERTH_RUNTIME_CGROUP_STATS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace berth::runtime {

// Where the hierarchies that hold the cpuacct, memory and pids controllers
// are mounted; empty where none is. On v2 all three are the unified mount.
struct CgroupLayout {
  bool unified = false;  // cgroup v2
  std::string cpu;       // v1: the hierarchy with cpuacct
  std::string memory;
  std::string pids;

  // This host's layout, from /proc/self/mountinfo (read at the first call
  // only: the hierarchies are mounted at boot and stay). A v1 controller
  // wins over the v2 mount in a hybrid layout, as runc uses it then.
  static const CgroupLayout& Host();
  // The layout the text of a mountinfo file describes.
  static CgroupLayout FromMountInfo(const std::string& mountinfo);
};

struct CgroupStats {
  std::optional<double> cpu_usage_seconds;
  std::optional<uint64_t> memory_usage_bytes;
  std::optional<uint64_t> memory_working_set_bytes;
  std::optional<uint64_t> pids;
};

// Which values Read reads (each costs a file or two).
enum CgroupStatFields : unsigned {
  kCgroupCpu = 1,
  kCgroupMemory = 2,  // usage and working set: two files
  kCgroupPids = 4,
  kCgroupAll = 7,
};

// The stats of `cgroups_path` under `layout`. kNotFound when none of the
// requested files exists (the container has no cgroup: it is not running,
// or never ran). Thread-safe.
absl::StatusOr<CgroupStats> ReadCgroupStats(const CgroupLayout& layout,
                                            const std::string& cgroups_path,
                                            unsigned fields = kCgroupAll);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_CGROUP_STATS_H_
