// Support for end-to-end tests on real runc: a busybox rootfs, a private
// temporary world per test (state dir, runc root, cgroup parent), and a
// leak check that fails the test if anything of it is left behind.
#ifndef BERTH_TESTS_TEST_ENV_H_
#define BERTH_TESTS_TEST_ENV_H_

#include <string>
#include <vector>

#include "runtime/runc_runtime.h"

namespace berth::testing {

// A busybox-static root file system, built once per process (under /tmp).
const std::string& BusyboxRootfs();

// A fresh temporary world; Leaks() lists whatever is left of it.
class TestWorld {
 public:
  TestWorld();
  ~TestWorld();  // removes the cgroup parent and the temp dir (best effort)

  const std::string& dir() const { return dir_; }
  // berthd's --state_dir and --run_dir; the runtime's directories below them.
  std::string berth_state_dir() const { return dir_ + "/state"; }
  std::string run_dir() const { return dir_ + "/run"; }
  std::string state_dir() const { return berth_state_dir() + "/containers"; }
  std::string runc_root() const { return run_dir() + "/runc"; }
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  // The runtime's --cni-conf-dir (empty unless a test writes a network
  // there) and its network namespace files.
  std::string cni_conf_dir() const { return dir_ + "/cni/net.d"; }
  std::string netns_dir() const { return run_dir() + "/netns"; }

  runtime::RuncRuntimeOptions RuntimeOptions() const;

  // Leftover runc containers, mounts, cgroups, monitors or other processes
  // mentioning this world, and entries in the state dir or the netns dir.
  // Empty when clean.
  std::vector<std::string> Leaks() const;
  // Deletes every container the runtime on this world's directories holds
  // (what a test's berthd left running); what could not be deleted, or
  // opened, is returned. Then Leaks() tells what else is left.
  std::vector<std::string> RemoveContainers() const;
  // The directory image "busybox" (BusyboxRootfs) in <dir>/images, the
  // --images-dir the berthd tests give.
  absl::Status AddBusyboxImage() const;

 private:
  std::string dir_;
  std::string cgroup_parent_;
};

// Polls `pred` every 10 ms until it holds or `timeout` passes.
template <typename Pred>
bool WaitFor(Pred pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// Pids of processes whose command line contains `needle`.
std::vector<int> ProcessesMentioning(const std::string& needle);

}  // namespace berth::testing

#endif  // BERTH_TESTS_TEST_ENV_H_
