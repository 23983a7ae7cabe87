#include "hack/perf_recording.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "runtime/sys/process.h"

namespace berth::bench {
namespace {

std::string ExitText(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exit code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("wait status ", wait_status);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PerfRecording>> PerfRecording::Start(
    const std::string& perf, const std::string& out, const std::string& cgroup_procs) {
  std::unique_ptr<PerfRecording> r(new PerfRecording());
  r->out_ = out;
  const std::string ctl = out + ".ctl", ack = out + ".ack";
  for (const std::string& f : {ctl, ack}) {
    unlink(f.c_str());
    if (mkfifo(f.c_str(), 0600) != 0)
      return absl::InternalError(absl::StrCat("mkfifo ", f, ": ", strerror(errno)));
  }
  // Read-write ends: neither open waits for perf's.
  r->ctl_ = runtime::UniqueFd(open(ctl.c_str(), O_RDWR | O_CLOEXEC));
  r->ack_ = runtime::UniqueFd(open(ack.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (r->ctl_.get() < 0 || r->ack_.get() < 0)
    return absl::InternalError(absl::StrCat("open the fifos of ", out, ": ", strerror(errno)));
  const std::string log = out + ".log";
  unlink(log.c_str());  // the process appends to it
  // The whole machine, with call graphs, at 999 Hz of CPU time (cpu-clock:
  // a sample's period is in ns, on any machine); sampling off until
  // enabled; no build-id pass at the end (the binaries stay where they are).
  if (absl::Status s =
          r->perf_.Start({perf, "record", "-e", "cpu-clock", "-a", "-g", "-F", "999", "-B", "-D",
                          "-1", "--control", absl::StrCat("fifo:", ctl, ",", ack), "-o", out},
                         log);
      !s.ok())
    return s;
  if (!cgroup_procs.empty()) {
    std::ofstream procs(cgroup_procs);
    procs << r->perf_.pid() << "\n" << std::flush;
    if (!procs.good()) return absl::InternalError("cannot move perf into " + cgroup_procs);
  }
  // Answered once perf reads its fifo: it has started.
  if (absl::Status s = r->Command("disable", absl::Seconds(60)); !s.ok()) return s;
  return r;
}

PerfRecording::~PerfRecording() {
  perf_.Stop(SIGKILL);
  if (!out_.empty()) {
    unlink((out_ + ".ctl").c_str());
    unlink((out_ + ".ack").c_str());
  }
}

absl::Status PerfRecording::Command(const char* what, absl::Duration timeout) {
  if (!perf_.running()) return absl::FailedPreconditionError("perf is not running");
  const std::string line = absl::StrCat(what, "\n");
  if (write(ctl_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return absl::InternalError(absl::StrCat("perf ", what, ": ", strerror(errno)));
  const absl::Time deadline = absl::Now() + timeout;
  std::string got;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(perf_.pid(), &status, WNOHANG) == perf_.pid()) {
      perf_.Forget();
      return absl::InternalError(
          absl::StrCat("perf exited (", ExitText(status), "; see ", out_, ".log)"));
    }
    pollfd p{ack_.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[64];
    const ssize_t n = read(ack_.get(), buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    if (got.find("ack\n") != std::string::npos) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("perf did not answer ", what, " (see ", out_, ".log)"));
}

absl::Status PerfRecording::Finish(absl::Duration timeout) {
  if (!perf_.running()) return absl::FailedPreconditionError("perf is not running");
  const int status = perf_.Stop(SIGINT, timeout);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
    return absl::DeadlineExceededError(
        absl::StrCat("perf did not finish writing ", out_, " in ", absl::FormatDuration(timeout)));
  // perf record exits 0, or with SIGINT's status, when interrupted.
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
      !(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT))
    return absl::InternalError(
        absl::StrCat("perf record failed (", ExitText(status), "; see ", out_, ".log)"));
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, double>> CpuMsByCommand(const std::string& perf,
                                                             const std::string& data) {
  absl::StatusOr<runtime::CommandResult> report =
      runtime::RunCommand({perf, "report", "-i", data, "--stdio", "-q", "--sort", "comm", "-F",
                           "period,comm", "-g", "none", "--percent-limit", "0"},
                          absl::Minutes(5));
  if (!report.ok()) return report.status();
  if (report->exit_code != 0)
    return absl::InternalError(absl::StrCat("perf report ", data, ": ", report->output));
  std::map<std::string, double> ms;
  for (absl::string_view line : absl::StrSplit(report->output, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    const size_t space = line.find_first_of(" \t");
    uint64_t period = 0;  // ns of the cpu-clock event
    if (space == absl::string_view::npos || !absl::SimpleAtoi(line.substr(0, space), &period))
      continue;  // perf's own remarks
    absl::string_view comm = absl::StripAsciiWhitespace(line.substr(space));
    if (comm == "swapper") continue;  // idle
    if (const size_t slash = comm.find('/'); slash != absl::string_view::npos && slash > 0)
      comm = comm.substr(0, slash);
    ms[std::string(comm)] += period / 1e6;
  }
  return ms;
}

}  // namespace berth::bench
