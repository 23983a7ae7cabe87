#include "runtime/cgroup_stats.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "runtime/sys/process.h"

namespace berth::runtime {
namespace {

// The files the stats come from.
enum File { kCpuFile, kMemoryUsageFile, kMemoryStatFile, kPidsFile, kFileCount };

// Reads a small cgroup file from `fd` (from its start) into `buf`; false on
// an error. (pread at 0: a cgroup file's text is made anew at each read
// from its start, so a kept descriptor reads the current values.)
bool ReadFrom(int fd, char* buf, size_t size, absl::string_view* out) {
  size_t n = 0;
  while (n < size) {
    const ssize_t r = pread(fd, buf + n, size - n, static_cast<off_t>(n));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) break;
    n += static_cast<size_t>(r);
    // A cgroup file comes whole in one read when it fits: a short read that
    // ends a line is its end (saves the read that would return 0).
    if (n < size && buf[n - 1] == '\n') break;
  }
  *out = absl::string_view(buf, n);
  return true;
}

// open/read/close: an ifstream costs more than the kernel's work here.
bool ReadSmall(const std::string& path, char* buf, size_t size, absl::string_view* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ReadFrom(fd, buf, size, out);
  close(fd);
  return ok;
}

bool ParseNumber(absl::string_view text, uint64_t* value) {
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), value);
}

// The value of the line "<key> <value>" of a flat keyed file (memory.stat,
// cpu.stat).
bool ParseKey(absl::string_view text, absl::string_view key, uint64_t* value) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, " ")) {
      return absl::SimpleAtoi(line, value);
    }
  }
  return false;
}

std::string Dir(const std::string& mount, const std::string& cgroups_path) {
  return absl::StrCat(mount, "/", absl::StripPrefix(cgroups_path, "/"), "/");
}

}  // namespace

CgroupLayout CgroupLayout::FromMountInfo(const std::string& mountinfo) {
  CgroupLayout v1;
  std::string unified;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n')) {
    // "<id> <parent> <dev> <root> <mount point> <options> ... - <type> <source> <super options>"
    const size_t sep = line.find(" - ");
    if (sep == absl::string_view::npos) continue;
    std::vector<absl::string_view> head = absl::StrSplit(line.substr(0, sep), ' ');
    std::vector<absl::string_view> tail = absl::StrSplit(line.substr(sep + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) continue;
    const std::string mount_point(head[4]);
    if (tail[0] == "cgroup2") {
      if (unified.empty()) unified = mount_point;
      continue;
    }
    if (tail[0] != "cgroup") continue;
    for (absl::string_view option : absl::StrSplit(tail[2], ',')) {
      if (option == "cpuacct" && v1.cpu.empty()) v1.cpu = mount_point;
      if (option == "memory" && v1.memory.empty()) v1.memory = mount_point;
      if (option == "pids" && v1.pids.empty()) v1.pids = mount_point;
    }
  }
  if (!v1.cpu.empty() || !v1.memory.empty() || !v1.pids.empty() || unified.empty()) return v1;
  CgroupLayout v2;
  v2.unified = true;
  v2.cpu = v2.memory = v2.pids = unified;
  return v2;
}

const CgroupLayout& CgroupLayout::Host() {
  static const CgroupLayout* const host = [] {
    absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo", 16 << 20);
    return new CgroupLayout(FromMountInfo(mountinfo.ok() ? *mountinfo : ""));
  }();
  return *host;
}

namespace {

// The stats, each file read by `read(file, path, buf, size, &text)`.
template <typename ReadFn>
absl::StatusOr<CgroupStats> Compute(const CgroupLayout& layout, const std::string& cgroups_path,
                                    unsigned fields, ReadFn read) {
  CgroupStats stats;
  char buf[8192];  // v1 memory.stat is about 1.5 KB
  absl::string_view text;
  uint64_t v = 0;
  if ((fields & kCgroupCpu) && !layout.cpu.empty()) {
    const std::string dir = Dir(layout.cpu, cgroups_path);
    if (layout.unified) {
      if (read(kCpuFile, dir + "cpu.stat", buf, sizeof buf, &text) &&
          ParseKey(text, "usage_usec", &v)) {
        stats.cpu_usage_seconds = v / 1e6;
      }
    } else if (read(kCpuFile, dir + "cpuacct.usage", buf, sizeof buf, &text) &&
               ParseNumber(text, &v)) {
      stats.cpu_usage_seconds = v / 1e9;
    }
  }
  if ((fields & kCgroupMemory) && !layout.memory.empty()) {
    const std::string dir = Dir(layout.memory, cgroups_path);
    if (read(kMemoryUsageFile, dir + (layout.unified ? "memory.current" : "memory.usage_in_bytes"),
             buf, sizeof buf, &text) &&
        ParseNumber(text, &v)) {
      stats.memory_usage_bytes = v;
      uint64_t inactive = 0;
      if (read(kMemoryStatFile, dir + "memory.stat", buf, sizeof buf, &text) &&
          ParseKey(text, layout.unified ? "inactive_file" : "total_inactive_file", &inactive)) {
        stats.memory_working_set_bytes = v > inactive ? v - inactive : 0;
      }
    }
  }
  if ((fields & kCgroupPids) && !layout.pids.empty() &&
      read(kPidsFile, Dir(layout.pids, cgroups_path) + "pids.current", buf, sizeof buf, &text) &&
      ParseNumber(text, &v)) {
    stats.pids = v;
  }
  if (!stats.cpu_usage_seconds && !stats.memory_usage_bytes && !stats.pids) {
    return absl::NotFoundError(absl::StrCat("read cgroup ", cgroups_path, ": no stats"));
  }
  return stats;
}

}  // namespace

absl::StatusOr<CgroupStats> ReadCgroupStats(const CgroupLayout& layout,
                                            const std::string& cgroups_path, unsigned fields) {
  return Compute(layout, cgroups_path, fields,
                 [](File, const std::string& path, char* buf, size_t size, absl::string_view* out) {
                   return ReadSmall(path, buf, size, out);
                 });
}

// One cgroup's kept descriptors (-1: not kept), closed with it.
struct CgroupStatsReader::Files {
  explicit Files(std::atomic<size_t>* open_files) : open_files(open_files) {}
  ~Files() {
    for (int f : fd) {
      if (f < 0) continue;
      close(f);
      --*open_files;
    }
  }
  std::atomic<size_t>* const open_files;
  absl::Mutex mu;
  int fd[kFileCount] ABSL_GUARDED_BY(mu) = {-1, -1, -1, -1};
};

size_t CgroupStatsReader::DefaultMaxOpenFiles() {
  rlimit rl = {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 256;
  return static_cast<size_t>(rl.rlim_cur / 4);
}

CgroupStatsReader::CgroupStatsReader(CgroupLayout layout, size_t max_open_files)
    : layout_(std::move(layout)), max_open_files_(max_open_files) {}

CgroupStatsReader::~CgroupStatsReader() { KeepOnly({}); }

absl::StatusOr<CgroupStats> CgroupStatsReader::Read(const std::string& cgroups_path,
                                                    unsigned fields) {
  std::shared_ptr<Files> files;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Files>& f = files_[cgroups_path];
    if (f == nullptr) f = std::make_shared<Files>(&open_files_);
    files = f;
  }
  absl::MutexLock lock(&files->mu);
  return Compute(layout_, cgroups_path, fields,
                 [&](File which, const std::string& path, char* buf, size_t size,
                     absl::string_view* out) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                   int& fd = files->fd[which];
                   if (fd >= 0) {
                     if (ReadFrom(fd, buf, size, out)) return true;
                     // The cgroup is gone (ENODEV): a new one may be there.
                     close(fd);
                     fd = -1;
                     --open_files_;
                   }
                   const int opened = open(path.c_str(), O_RDONLY | O_CLOEXEC);
                   if (opened < 0) return false;
                   const bool ok = ReadFrom(opened, buf, size, out);
                   if (ok && ++open_files_ <= max_open_files_) {
                     fd = opened;
                   } else {
                     if (ok) --open_files_;
                     close(opened);
                   }
                   return ok;
                 });
}

void CgroupStatsReader::KeepOnly(const std::set<std::string>& cgroups_paths) {
  std::vector<std::shared_ptr<Files>> dropped;  // closed out of the lock
  absl::MutexLock lock(&mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (cgroups_paths.count(it->first) != 0) {
      ++it;
      continue;
    }
    dropped.push_back(std::move(it->second));
    it = files_.erase(it);
  }
}

}  // namespace berth::runtime
