// What a container's cgroup says of its use of the node: CPU time, memory
// (usage and cAdvisor's working set) and pids, on cgroup v1 (one hierarchy
// per controller, e.g. /sys/fs/cgroup/cpu,cpuacct and /sys/fs/cgroup/memory)
// or v2 (the unified hierarchy).
//
// Where each controller's hierarchy is mounted is found once
// (CgroupLayout::Host reads /proc/self/mountinfo); ReadCgroupStats then
// costs only the open/read/close of the few files it needs, with no
// allocation beyond its path strings. CgroupStatsReader, for reading the
// same cgroups again and again (every scrape), keeps the files open and
// costs one pread each: on cgroup v1 here, 1,000 containers' three files
// take ~25 ms with open/read/close and ~12 ms with pread, most of it the
// kernel's making of memory.stat.
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

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

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

// ReadCgroupStats for cgroups read again and again: each file is opened at
// its first read and kept open, and read again with one pread at offset 0
// (the kernel makes a cgroup file's text anew at each read from its start).
// A kept file of a cgroup removed since (its container was recreated under
// the same path) fails to read (ENODEV) and is opened again, so a value
// never comes from a cgroup that is gone. At most `max_open_files` files
// are kept open at once; beyond, a file is opened, read and closed as
// ReadCgroupStats does. KeepOnly closes the files of the cgroups no longer
// read. Values and errors are ReadCgroupStats's.
//
// Thread-safe: several threads may Read at once (the same path too).
class CgroupStatsReader {
 public:
  // The default: a quarter of this process's RLIMIT_NOFILE soft limit, so
  // that the kept files never starve the rest of the daemon.
  static size_t DefaultMaxOpenFiles();

  explicit CgroupStatsReader(CgroupLayout layout, size_t max_open_files = DefaultMaxOpenFiles());
  ~CgroupStatsReader();
  CgroupStatsReader(const CgroupStatsReader&) = delete;
  CgroupStatsReader& operator=(const CgroupStatsReader&) = delete;

  const CgroupLayout& layout() const { return layout_; }

  absl::StatusOr<CgroupStats> Read(const std::string& cgroups_path, unsigned fields = kCgroupAll)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Closes the files of every cgroup not in `cgroups_paths`.
  void KeepOnly(const std::set<std::string>& cgroups_paths) ABSL_LOCKS_EXCLUDED(mu_);
  // Files kept open now.
  size_t open_files() const { return open_files_.load(); }

 private:
  struct Files;

  const CgroupLayout layout_;
  const size_t max_open_files_;
  std::atomic<size_t> open_files_{0};
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Files>> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_CGROUP_STATS_H_
