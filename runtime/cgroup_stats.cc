#include "runtime/cgroup_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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

// Reads a small cgroup file into `buf`; false when it cannot be read.
// (open/read/close: an ifstream costs more than the kernel's work here.)
bool ReadSmall(const std::string& path, char* buf, size_t size, absl::string_view* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t n = 0;
  while (n < size) {
    const ssize_t r = read(fd, buf + n, size - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += static_cast<size_t>(r);
    // A cgroup file comes whole in one read when it fits: a short read that
    // ends a line is its end (saves the read that would return 0).
    if (n < size && buf[n - 1] == '\n') break;
  }
  close(fd);
  *out = absl::string_view(buf, n);
  return true;
}

bool ReadNumber(const std::string& path, uint64_t* value) {
  char buf[64];
  absl::string_view text;
  if (!ReadSmall(path, buf, sizeof buf, &text)) return false;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), value);
}

// The value of the line "<key> <value>" of a flat keyed file (memory.stat,
// cpu.stat).
bool ReadKey(const std::string& path, absl::string_view key, uint64_t* value) {
  char buf[8192];  // v1 memory.stat is about 1.5 KB
  absl::string_view text;
  if (!ReadSmall(path, buf, sizeof buf, &text)) return false;
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

absl::StatusOr<CgroupStats> ReadCgroupStats(const CgroupLayout& layout,
                                            const std::string& cgroups_path, unsigned fields) {
  CgroupStats stats;
  uint64_t v = 0;
  if ((fields & kCgroupCpu) && !layout.cpu.empty()) {
    const std::string dir = Dir(layout.cpu, cgroups_path);
    if (layout.unified) {
      if (ReadKey(dir + "cpu.stat", "usage_usec", &v)) stats.cpu_usage_seconds = v / 1e6;
    } else if (ReadNumber(dir + "cpuacct.usage", &v)) {
      stats.cpu_usage_seconds = v / 1e9;
    }
  }
  if ((fields & kCgroupMemory) && !layout.memory.empty()) {
    const std::string dir = Dir(layout.memory, cgroups_path);
    if (ReadNumber(dir + (layout.unified ? "memory.current" : "memory.usage_in_bytes"), &v)) {
      stats.memory_usage_bytes = v;
      uint64_t inactive = 0;
      if (ReadKey(dir + "memory.stat", layout.unified ? "inactive_file" : "total_inactive_file",
                  &inactive)) {
        stats.memory_working_set_bytes = v > inactive ? v - inactive : 0;
      }
    }
  }
  if ((fields & kCgroupPids) && !layout.pids.empty() &&
      ReadNumber(Dir(layout.pids, cgroups_path) + "pids.current", &v)) {
    stats.pids = v;
  }
  if (!stats.cpu_usage_seconds && !stats.memory_usage_bytes && !stats.pids) {
    return absl::NotFoundError(absl::StrCat("read cgroup ", cgroups_path, ": no stats"));
  }
  return stats;
}

}  // namespace berth::runtime
