#include "tests/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/test_env.h"

extern char** environ;

namespace berth::testing {

absl::Status OwnedProcess::Start(const std::vector<std::string>& argv, const std::string& log,
                                 int parent_death_signal) {
  if (pid_ > 0) return absl::FailedPreconditionError("process already running");
  log_ = log;
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  if (parent_death_signal != 0) {
    // fork and exec: posix_spawn cannot set the parent-death signal. The
    // child calls only async-signal-safe functions.
    const pid_t parent = getpid();
    pid = fork();
    if (pid < 0) return absl::ErrnoToStatus(errno, absl::StrCat("fork for ", argv[0]));
    if (pid == 0) {
      if (prctl(PR_SET_PDEATHSIG, parent_death_signal) != 0 || getppid() != parent) _exit(127);
      const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
      const int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
      execve(cargv[0], cargv.data(), environ);
      _exit(127);
    }
    pid_ = pid;
    return absl::OkStatus();
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int err = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return absl::ErrnoToStatus(err, absl::StrCat("spawn ", argv[0]));
  pid_ = pid;
  return absl::OkStatus();
}

int OwnedProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  const bool exited = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return status;
}

std::string OwnedProcess::Log() const {
  if (log_.empty()) return "";
  return runtime::ReadFile(log_, size_t{256} << 20).value_or("");
}

int OwnedProcess::CountInLog(const std::string& needle) const {
  const std::string log = Log();
  int n = 0;
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

std::string KubectlPath() {
  if (access(BERTH_KUBECTL, X_OK) == 0) return BERTH_KUBECTL;
  const char* path = getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/kubectl");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<KubeEmulator>> KubeEmulator::Start(
    const std::string& dir, const std::vector<std::string>& extra_flags) {
  std::unique_ptr<KubeEmulator> e(new KubeEmulator(dir));
  const std::string port_file = dir + "/emulator.port";
  e->kubeconfig_ = dir + "/kubeconfig";
  std::vector<std::string> argv = {
      "/usr/bin/python3", BERTH_KUBE_EMULATOR_PATH, "--port",      "0", "--port-file",
      port_file,          "--kubeconfig-out",       e->kubeconfig_};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  // SIGTERM when the test's thread ends: an emulator never outlives a test
  // that crashed.
  if (absl::Status s = e->process_.Start(argv, dir + "/emulator.log", SIGTERM); !s.ok()) return s;
  bool up = WaitFor(
      [&] {
        absl::StatusOr<std::string> port = runtime::ReadFile(port_file);
        return port.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*port), &e->port_) &&
               e->port_ > 0 && access(e->kubeconfig_.c_str(), R_OK) == 0;
      },
      absl::Seconds(20));
  if (!up) {
    return absl::UnavailableError(
        absl::StrCat("start kube emulator: no port after 20s; log:\n", e->process_.Log()));
  }
  return e;
}

KubeEmulator::~KubeEmulator() { process_.Stop(SIGTERM); }

runtime::CommandResult KubeEmulator::Kubectl(const std::vector<std::string>& args,
                                             absl::Duration timeout) const {
  std::vector<std::string> argv = {KubectlPath(), "--kubeconfig=" + kubeconfig_,
                                   "--cache-dir=" + dir_ + "/kubectl-cache"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, timeout);
  if (!r.ok()) return runtime::CommandResult{-1, r.status().ToString()};
  return *r;
}

runtime::CommandResult KubeEmulator::KubectlWithFile(const std::vector<std::string>& args,
                                                     const std::string& content) const {
  const std::string file = absl::StrCat(dir_, "/manifest-", ++files_, ".yaml");
  if (absl::Status s = runtime::WriteFileAtomic(file, content); !s.ok()) {
    return runtime::CommandResult{-1, s.ToString()};
  }
  std::vector<std::string> a = args;
  a.push_back("-f");
  a.push_back(file);
  return Kubectl(a);
}

absl::Status KubeEmulator::Control(const std::string& what) const {
  runtime::CommandResult r = KubectlWithFile({"create", "--raw", "/_emulator/" + what}, "{}\n");
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("emulator control ", what, ": ", r.output));
  }
  return absl::OkStatus();
}

}  // namespace berth::testing
