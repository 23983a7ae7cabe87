// Processes that end-to-end tests start and own: berthd, the API emulator.
// Each one's output goes to a log file; the destructor kills what is left.
#ifndef BERTH_TESTS_PROCESSES_H_
#define BERTH_TESTS_PROCESSES_H_

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/sys/process.h"

namespace berth::testing {

// A program started with stdout and stderr appended to `log`.
class OwnedProcess {
 public:
  OwnedProcess() = default;
  ~OwnedProcess() { Stop(SIGKILL); }
  OwnedProcess(const OwnedProcess&) = delete;
  OwnedProcess& operator=(const OwnedProcess&) = delete;

  // Starts argv (argv[0] an absolute path). Fails if one is running. With
  // `parent_death_signal`, the process gets that signal when the test dies
  // (PR_SET_PDEATHSIG): a test that dies abruptly leaves no such process
  // behind. The kernel may send it as soon as the starting thread ends, so
  // only for a process started by a thread that lives as long as the
  // process should (the test's main thread).
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log,
                     int parent_death_signal = 0);
  // Sends `signal` and waits for the exit (SIGKILL after `timeout`); the
  // wait status, or -1 when none was running.
  int Stop(int signal, absl::Duration timeout = absl::Seconds(10));
  // Forgets the process (already reaped by the caller): Stop does nothing.
  void Forget() { pid_ = -1; }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string Log() const;
  // How often `needle` occurs in the log.
  int CountInLog(const std::string& needle) const;

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// The Kubernetes API emulator (hack/kube-emulator) on a free loopback port,
// with a kubeconfig for kubectl and berthd.
class KubeEmulator {
 public:
  // `dir` holds its port file, kubeconfig and log.
  static absl::StatusOr<std::unique_ptr<KubeEmulator>> Start(
      const std::string& dir, const std::vector<std::string>& extra_flags = {});
  ~KubeEmulator();

  const std::string& kubeconfig() const { return kubeconfig_; }
  int port() const { return port_; }
  std::string Log() const { return process_.Log(); }

  // kubectl against this emulator (its own discovery cache in `dir`);
  // `output` is stdout and stderr together.
  runtime::CommandResult Kubectl(const std::vector<std::string>& args,
                                 absl::Duration timeout = absl::Seconds(30)) const;
  // kubectl with a manifest written to a file first: Apply("apply", yaml).
  runtime::CommandResult KubectlWithFile(const std::vector<std::string>& args,
                                         const std::string& content) const;
  // POST /_emulator/<what> (compact, drop-watches, outage?seconds=N).
  absl::Status Control(const std::string& what) const;

 private:
  explicit KubeEmulator(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::string kubeconfig_;
  int port_ = 0;
  OwnedProcess process_;
  mutable int files_ = 0;
};

// Where kubectl is: the one hack/install-tools put into the build tree
// (BERTH_KUBECTL, build/tools/kubectl), else the first on PATH; empty when
// there is none.
std::string KubectlPath();

}  // namespace berth::testing

#endif  // BERTH_TESTS_PROCESSES_H_
