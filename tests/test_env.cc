#include "tests/test_env.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "runtime/oci/runc.h"
#include "runtime/sys/cgroups.h"
#include "runtime/sys/process.h"

namespace berth::testing {
namespace {

std::vector<std::string> ListDir(const std::string& path, bool dirs_only) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (dirs_only && e->d_type != DT_DIR) continue;
    out.push_back(name);
  }
  closedir(d);
  return out;
}

std::string MakeRootfs() {
  char tmpl[] = "/tmp/berth-rootfs-XXXXXX";
  std::string root = mkdtemp(tmpl);
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc", "root", "var", "run"}) {
    mkdir(absl::StrCat(root, "/", d).c_str(), 0755);
  }
  chmod((root + "/tmp").c_str(), 01777);
  auto copied =
      runtime::RunCommandOk({"/bin/cp", "/bin/busybox", root + "/bin/busybox"}, absl::Seconds(10));
  if (!copied.ok()) abort();
  auto list = runtime::RunCommand({"/bin/busybox", "--list"}, absl::Seconds(10));
  if (!list.ok()) abort();
  for (absl::string_view applet : absl::StrSplit(list->output, '\n', absl::SkipEmpty())) {
    if (applet == "busybox") continue;
    symlink("busybox", absl::StrCat(root, "/bin/", applet).c_str());
  }
  runtime::WriteFileAtomic(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n").IgnoreError();
  runtime::WriteFileAtomic(root + "/etc/group", "root:x:0:\n").IgnoreError();
  return root;
}

std::string g_rootfs;

void RemoveRootfs() {
  if (!g_rootfs.empty()) runtime::RemoveTree(g_rootfs).IgnoreError();
}

}  // namespace

const std::string& BusyboxRootfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_rootfs = MakeRootfs();
    atexit(RemoveRootfs);
  });
  return g_rootfs;
}

std::vector<int> ProcessesMentioning(const std::string& needle) {
  std::vector<int> out;
  for (const std::string& name : ListDir("/proc", true)) {
    int pid;
    if (!absl::SimpleAtoi(name, &pid) || pid == getpid()) continue;
    auto cmdline = runtime::ReadFile(absl::StrCat("/proc/", pid, "/cmdline"), 1 << 16);
    if (!cmdline.ok() || cmdline->empty()) continue;
    if (absl::StrContains(*cmdline, needle)) out.push_back(pid);
  }
  return out;
}

TestWorld::TestWorld() {
  char tmpl[] = "/tmp/berth-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  static std::atomic<int> counter{0};
  cgroup_parent_ = absl::StrCat("/berth-test-", getpid(), "-", counter++);
}

TestWorld::~TestWorld() {
  for (const std::string& d : runtime::ExistingCgroupDirs(cgroup_parent_)) rmdir(d.c_str());
  runtime::RemoveTree(dir_).IgnoreError();
}

runtime::RuncRuntimeOptions TestWorld::RuntimeOptions() const {
  runtime::RuncRuntimeOptions o;
  o.state_dir = state_dir();
  o.runc_root = runc_root();
  o.cgroup_parent = cgroup_parent_;
  o.monitor_binary = BERTH_MONITOR_PATH;
  o.create_timeout = absl::Seconds(20);
  o.cleanup_timeout = absl::Seconds(10);
  // No CNI network unless a test writes one (never the node's), and the
  // namespace files inside the world.
  o.cni_conf_dir = cni_conf_dir();
  o.netns_dir = netns_dir();
  return o;
}

absl::Status TestWorld::AddBusyboxImage() const {
  const std::string image = dir_ + "/images/busybox/latest";
  if (absl::Status s = runtime::MakeDirs(image); !s.ok()) return s;
  if (symlink(BusyboxRootfs().c_str(), (image + "/rootfs").c_str()) != 0) {
    return absl::InternalError(absl::StrCat("symlink ", image, "/rootfs: ", strerror(errno)));
  }
  return absl::OkStatus();
}

std::vector<std::string> TestWorld::RemoveContainers() const {
  auto rt = runtime::RuncRuntime::Open(RuntimeOptions());
  if (!rt.ok()) return {absl::StrCat("open the runtime: ", rt.status().ToString())};
  auto all = (*rt)->List();
  if (!all.ok()) return {absl::StrCat("list containers: ", all.status().ToString())};
  std::vector<std::string> failed;
  for (const auto& c : *all) {
    if (absl::Status s = (*rt)->Delete(c.id); !s.ok()) {
      failed.push_back(absl::StrCat("delete ", c.id, ": ", s.ToString()));
    }
  }
  return failed;
}

std::vector<std::string> TestWorld::Leaks() const {
  std::vector<std::string> leaks;
  runtime::oci::Runc runc(runtime::oci::FindRunc(), runc_root());
  if (auto listed = runc.List(); listed.ok()) {
    for (const auto& c : *listed)
      leaks.push_back(absl::StrCat("runc container ", c.id, " (", c.status, ")"));
  }
  for (const std::string& d : ListDir(runc_root(), false)) leaks.push_back("runc root entry " + d);
  for (const std::string& m : runtime::MountsUnder(dir_)) leaks.push_back("mount " + m);
  for (const std::string& parent : runtime::ExistingCgroupDirs(cgroup_parent_)) {
    for (const std::string& child : ListDir(parent, true)) {
      leaks.push_back(absl::StrCat("cgroup ", parent, "/", child));
    }
    auto procs = runtime::ReadFile(parent + "/cgroup.procs");
    if (procs.ok() && !procs->empty()) leaks.push_back("processes in cgroup " + parent);
  }
  for (int pid : ProcessesMentioning(dir_)) leaks.push_back(absl::StrCat("process ", pid));
  for (const std::string& e : ListDir(state_dir(), false)) leaks.push_back("state entry " + e);
  for (const std::string& e : ListDir(netns_dir(), false)) leaks.push_back("netns file " + e);
  return leaks;
}

}  // namespace berth::testing
