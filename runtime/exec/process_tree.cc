#include "runtime/exec/process_tree.h"

#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/sys/process.h"

namespace berth::runtime {
namespace {

struct ProcInfo {
  pid_t ppid = 0;
  pid_t sid = 0;
  bool zombie = false;
};

// Every process in /proc with its parent and session.
std::map<pid_t, ProcInfo> ListProcesses() {
  std::map<pid_t, ProcInfo> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0) continue;
    absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"), 4096);
    if (!stat.ok()) continue;  // gone meanwhile
    // "pid (comm) state ppid pgrp session ...": comm may hold anything.
    const size_t paren = stat->rfind(')');
    if (paren == std::string::npos) continue;
    std::vector<absl::string_view> f =
        absl::StrSplit(absl::string_view(*stat).substr(paren + 1), ' ', absl::SkipEmpty());
    ProcInfo info;
    if (f.size() < 4 || !absl::SimpleAtoi(f[1], &info.ppid) || !absl::SimpleAtoi(f[3], &info.sid)) {
      continue;
    }
    info.zombie = f[0] == "Z" || f[0] == "X";
    out[pid] = info;
  }
  closedir(d);
  return out;
}

}  // namespace

std::vector<pid_t> ProcessTree(pid_t root, uint64_t root_start_time) {
  if (root <= 0) return {};
  const uint64_t now = ProcessStartTime(root);
  if (now != 0 && root_start_time != 0 && now != root_start_time) return {};  // reused
  const std::map<pid_t, ProcInfo> procs = ListProcesses();
  std::map<pid_t, std::vector<pid_t>> children;
  for (const auto& [pid, info] : procs) children[info.ppid].push_back(pid);
  std::vector<pid_t> tree;
  std::vector<pid_t> todo = {root};
  for (const auto& [pid, info] : procs) {
    if (info.sid == root && pid != root) todo.push_back(pid);
  }
  // Bounded: each pid is taken once (a parent link cycle cannot exist, and
  // `tree` guards against one anyway).
  while (!todo.empty()) {
    const pid_t pid = todo.back();
    todo.pop_back();
    if (std::find(tree.begin(), tree.end(), pid) != tree.end()) continue;
    tree.push_back(pid);
    if (auto it = children.find(pid); it != children.end()) {
      todo.insert(todo.end(), it->second.begin(), it->second.end());
    }
  }
  std::vector<pid_t> live;
  for (pid_t pid : tree) {
    auto it = procs.find(pid);
    if (it != procs.end() && !it->second.zombie) live.push_back(pid);
  }
  std::sort(live.begin(), live.end());
  return live;
}

absl::Status KillProcessTree(pid_t root, uint64_t root_start_time, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const std::vector<pid_t> tree = ProcessTree(root, root_start_time);
    if (tree.empty()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("kill process tree of ", root, ": ",
                                                      tree.size(), " processes still alive after ",
                                                      absl::FormatDuration(timeout)));
    }
    for (pid_t pid : tree) kill(pid, SIGKILL);
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace berth::runtime
