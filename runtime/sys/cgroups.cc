#include "runtime/sys/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/sys/process.h"
#include "runtime/sys/small_file.h"

namespace berth::runtime {
namespace {

struct Hierarchy {
  std::string mount_point;
  std::vector<std::string> controllers;  // empty for v2 / named hierarchies
  bool unified = false;
};

std::vector<Hierarchy> ParseHierarchies(absl::string_view mountinfo) {
  std::vector<Hierarchy> out;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    size_t sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::vector<std::string> head = absl::StrSplit(line.substr(0, sep), ' ');
    std::vector<std::string> tail = absl::StrSplit(line.substr(sep + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) continue;
    Hierarchy h;
    h.mount_point = head[4];
    if (tail[0] == "cgroup2") {
      h.unified = true;
    } else if (tail[0] == "cgroup") {
      for (absl::string_view opt : absl::StrSplit(tail[2], ',')) {
        if (opt != "rw" && opt != "ro" && !absl::StartsWith(opt, "release_agent")) {
          h.controllers.emplace_back(opt);
        }
      }
    } else {
      continue;
    }
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<Hierarchy> ReadMountedHierarchies() {
  absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo", 16 << 20);
  return mountinfo.ok() ? ParseHierarchies(*mountinfo) : std::vector<Hierarchy>{};
}

// The cgroup hierarchies are mounted at boot and stay: read once. (Container
// mounts make mountinfo long, and this is asked several times a container.)
const std::vector<Hierarchy>& MountedHierarchies() {
  static const std::vector<Hierarchy>* const hierarchies =
      new std::vector<Hierarchy>(ReadMountedHierarchies());
  return *hierarchies;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Join(const std::string& mount, const std::string& cgroups_path) {
  std::string rel(absl::StripPrefix(cgroups_path, "/"));
  return absl::StrCat(mount, "/", rel);
}

std::vector<int> ReadProcs(const std::string& dir) {
  std::vector<int> pids;
  absl::StatusOr<std::string> s = ReadFile(dir + "/cgroup.procs");
  if (!s.ok()) return pids;
  for (absl::string_view l : absl::StrSplit(*s, '\n', absl::SkipEmpty())) {
    int pid;
    if (absl::SimpleAtoi(l, &pid)) pids.push_back(pid);
  }
  return pids;
}

std::vector<std::string> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (e->d_type == DT_DIR && name != "." && name != "..") out.push_back(dir + "/" + name);
  }
  closedir(d);
  return out;
}

}  // namespace

std::vector<std::string> ExistingCgroupDirs(const std::string& cgroups_path) {
  std::vector<std::string> out;
  if (cgroups_path.empty() || cgroups_path == "/") return out;
  for (const Hierarchy& h : MountedHierarchies()) {
    std::string d = Join(h.mount_point, cgroups_path);
    if (IsDir(d)) out.push_back(d);
  }
  return out;
}

std::vector<int> CgroupPids(const std::string& cgroups_path) {
  std::set<int> all;
  for (const std::string& d : ExistingCgroupDirs(cgroups_path)) {
    for (int pid : ReadProcs(d)) all.insert(pid);
  }
  return {all.begin(), all.end()};
}

namespace {

// Gives a new v1 cpuset cgroup (and its new parents) the cpus and mems of
// its parent: without them it takes no process (runc does the same).
absl::Status InheritCpuset(const std::string& mount_point, const std::string& cgroups_path) {
  std::string at = mount_point;
  for (absl::string_view part : absl::StrSplit(cgroups_path, '/', absl::SkipEmpty())) {
    const std::string parent = at;
    at = absl::StrCat(at, "/", part);
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
      absl::StatusOr<std::string> own = ReadFile(absl::StrCat(at, "/", file));
      if (own.ok() && !absl::StripAsciiWhitespace(*own).empty()) continue;
      absl::StatusOr<std::string> inherited = ReadFile(absl::StrCat(parent, "/", file));
      if (!inherited.ok()) return inherited.status();
      const std::string path = absl::StrCat(at, "/", file);
      int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
      const ssize_t n = write(fd, inherited->data(), inherited->size());
      const int err = errno;
      close(fd);
      if (n < 0) return absl::ErrnoToStatus(err, absl::StrCat("write ", path));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MoveToCgroup(int pid, const std::string& cgroups_path) {
  if (cgroups_path.empty() || cgroups_path == "/") {
    return absl::InvalidArgumentError("move to cgroup: no path");
  }
  // First every directory, ready to take a process; only then the move, so
  // that a failure to prepare moves nothing and leaves nothing.
  const std::vector<Hierarchy>& hierarchies = MountedHierarchies();
  absl::Status prepared;
  for (const Hierarchy& h : hierarchies) {
    const std::string dir = Join(h.mount_point, cgroups_path);
    // A concurrent removal of an empty parent can win once; try again.
    prepared = MakeDirs(dir, 0755);
    if (!prepared.ok()) prepared = MakeDirs(dir, 0755);
    if (prepared.ok() &&
        std::find(h.controllers.begin(), h.controllers.end(), "cpuset") != h.controllers.end()) {
      prepared = InheritCpuset(h.mount_point, cgroups_path);
    }
    if (!prepared.ok()) break;
  }
  if (!prepared.ok()) {
    for (const std::string& d : ExistingCgroupDirs(cgroups_path)) rmdir(d.c_str());
    return prepared;
  }
  return JoinCgroup(pid, cgroups_path);
}

absl::Status JoinCgroup(int pid, const std::string& cgroups_path) {
  if (cgroups_path.empty() || cgroups_path == "/") {
    return absl::InvalidArgumentError("join cgroup: no path");
  }
  const std::string line = std::to_string(pid);
  for (const Hierarchy& h : MountedHierarchies()) {
    const std::string procs = Join(h.mount_point, cgroups_path) + "/cgroup.procs";
    int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", procs));
    const bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    const int err = errno;
    close(fd);
    if (!ok) return absl::ErrnoToStatus(err, absl::StrCat("move ", pid, " to ", procs));
  }
  return absl::OkStatus();
}

std::vector<std::string> CgroupChildren(const std::string& cgroups_path) {
  std::set<std::string> names;
  for (const std::string& d : ExistingCgroupDirs(cgroups_path)) {
    for (const std::string& child : SubDirs(d)) names.insert(child.substr(child.rfind('/') + 1));
  }
  return {names.begin(), names.end()};
}

absl::Status KillAndRemoveCgroups(const std::string& cgroups_path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> dirs;
  for (const std::string& top : ExistingCgroupDirs(cgroups_path)) {
    // Children (a container may make its own cgroups) go before parents.
    std::vector<std::string> tree = {top};
    for (size_t i = 0; i < tree.size(); ++i) {
      for (const std::string& child : SubDirs(tree[i])) tree.push_back(child);
    }
    dirs.insert(dirs.end(), tree.rbegin(), tree.rend());
  }
  if (dirs.empty()) return absl::OkStatus();
  ThawCgroups(cgroups_path);
  absl::Status first_error;
  for (const std::string& d : dirs) {
    while (true) {
      for (int pid : ReadProcs(d)) kill(pid, SIGKILL);
      if (rmdir(d.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || absl::Now() >= deadline) {
        if (first_error.ok()) {
          first_error = absl::ErrnoToStatus(errno, absl::StrCat("remove cgroup ", d));
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return first_error;
}

std::string OomEventsFile(const std::string& cgroups_path) {
  for (const Hierarchy& h : MountedHierarchies()) {
    if (h.unified) {
      std::string f = Join(h.mount_point, cgroups_path) + "/memory.events";
      absl::StatusOr<std::string> ctl = ReadFile(Join(h.mount_point, "cgroup.controllers"));
      if (ctl.ok() && absl::StrContains(*ctl, "memory")) return f;
      continue;
    }
    if (std::find(h.controllers.begin(), h.controllers.end(), "memory") != h.controllers.end()) {
      return Join(h.mount_point, cgroups_path) + "/memory.oom_control";
    }
  }
  return "";
}

void ThawCgroups(const std::string& cgroups_path) {
  if (cgroups_path.empty() || cgroups_path == "/") return;
  // Only v1's freezer hierarchy and the unified one have a freeze file:
  // one write to each, where the cgroup exists (no probing of the other
  // hierarchies: this runs at every stop and teardown).
  for (const Hierarchy& h : MountedHierarchies()) {
    const bool v1_freezer =
        std::find(h.controllers.begin(), h.controllers.end(), "freezer") != h.controllers.end();
    if (!v1_freezer && !h.unified) continue;
    const std::string file =
        Join(h.mount_point, cgroups_path) + (v1_freezer ? "/freezer.state" : "/cgroup.freeze");
    const absl::string_view thawed = v1_freezer ? "THAWED" : "0";
    UniqueFd fd(open(file.c_str(), O_WRONLY | O_CLOEXEC));  // no O_CREAT: absent is fine
    if (fd.get() >= 0) (void)!write(fd.get(), thawed.data(), thawed.size());
  }
}

FreezerFile FindFreezerFile(absl::string_view mountinfo) {
  const std::vector<Hierarchy> hierarchies = ParseHierarchies(mountinfo);
  const Hierarchy* unified = nullptr;
  for (const Hierarchy& h : hierarchies) {
    if (std::find(h.controllers.begin(), h.controllers.end(), "freezer") != h.controllers.end()) {
      return FreezerFile{h.mount_point, "freezer.state"};
    }
    if (h.unified && unified == nullptr) unified = &h;
  }
  return unified != nullptr ? FreezerFile{unified->mount_point, "cgroup.freeze"} : FreezerFile{};
}

bool FreezerContentIsFrozen(absl::string_view content) {
  const absl::string_view state = absl::StripAsciiWhitespace(content);
  return state == "FROZEN" || state == "1";
}

namespace {

std::string FreezerStatePathAt(const FreezerFile& freezer, const std::string& cgroups_path) {
  if (freezer.mount_point.empty() || cgroups_path.empty() || cgroups_path == "/") return "";
  return absl::StrCat(Join(freezer.mount_point, cgroups_path), "/", freezer.file);
}

// The hierarchies are mounted at boot and stay: where the freezer is is
// decided once.
const FreezerFile& HostFreezer() {
  static const FreezerFile* const freezer = [] {
    absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo", 16 << 20);
    return new FreezerFile(mountinfo.ok() ? FindFreezerFile(*mountinfo) : FreezerFile{});
  }();
  return *freezer;
}

}  // namespace

bool CgroupIsFrozenAt(const FreezerFile& freezer, const std::string& cgroups_path) {
  // One read of one file: this is asked for every container at every relist.
  const std::string path = FreezerStatePathAt(freezer, cgroups_path);
  if (path.empty()) return false;
  std::optional<std::string> v = ReadSmallFile(path, 64);
  return v.has_value() && FreezerContentIsFrozen(*v);
}

std::string FreezerStatePath(const std::string& cgroups_path) {
  return FreezerStatePathAt(HostFreezer(), cgroups_path);
}

bool CgroupIsFrozen(const std::string& cgroups_path) {
  return CgroupIsFrozenAt(HostFreezer(), cgroups_path);
}

}  // namespace berth::runtime
