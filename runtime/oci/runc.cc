#include "runtime/oci/runc.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"

namespace berth::runtime::oci {

Runc::Runc(std::string binary, std::string root, absl::Duration timeout)
    : binary_(std::move(binary)), root_(std::move(root)), timeout_(timeout) {}

absl::Status Runc::Run(const std::string& action, const std::string& id,
                       std::vector<std::string> args, std::string* output) const {
  std::vector<std::string> argv = {binary_, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> r = RunCommand(argv, timeout_);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat(action, " container ", id, ": ", r.status().message()));
  }
  if (output != nullptr) *output = r->output;
  if (r->exit_code == 0) return absl::OkStatus();
  std::string msg(absl::StripAsciiWhitespace(r->output));
  const std::string text =
      absl::StrCat(action, " container ", id, ": runc exit status ", r->exit_code, ": ", msg);
  if (absl::StrContains(msg, "does not exist") || absl::StrContains(msg, "not exist")) {
    return absl::NotFoundError(text);
  }
  if (absl::StrContains(msg, "not running") || absl::StrContains(msg, "cannot start")) {
    return absl::FailedPreconditionError(text);
  }
  return absl::InternalError(text);
}

absl::Status Runc::Start(const std::string& id, int pid, uint64_t pid_start_time) const {
  const std::string fifo = absl::StrCat(root_, "/", id, "/exec.fifo");
  // A non-blocking open of the read end succeeds at once and lets runc init,
  // blocked opening the write end, go on to write its byte.
  UniqueFd fd(open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  const auto already_started = [&] {
    return absl::AlreadyExistsError(absl::StrCat("start container ", id, ": already started"));
  };
  if (!fd.valid()) {
    if (errno == ENOENT && access(absl::StrCat(root_, "/", id, "/state.json").c_str(), F_OK) == 0) {
      return already_started();
    }
    return Run("start", id, {"start", id}, nullptr);
  }
  const absl::Time deadline = absl::Now() + timeout_;
  size_t got = 0;
  while (true) {
    pollfd p{fd.get(), POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r < 0 && errno != EINTR)
      return absl::ErrnoToStatus(errno, absl::StrCat("start container ", id));
    if (r > 0) {
      char buf[16];
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        got += static_cast<size_t>(n);
        continue;
      }
      // EOF: runc init wrote its byte and exec'd the program (closing the
      // write end), or there never was a writer: the container already ran.
      if (n == 0 && (p.revents & POLLHUP) != 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::ErrnoToStatus(errno, absl::StrCat("start container ", id, ": read ", fifo));
      }
    }
    if (got == 0 && pid > 0) {
      if (!ProcessIsAlive(pid, pid_start_time)) {
        return absl::FailedPreconditionError(
            absl::StrCat("start container ", id, ": its process ", pid, " has exited"));
      }
      // An earlier start read the fifo but did not remove it: the program
      // runs already (runc init has replaced itself with it).
      if (ProcessName(pid) != "runc:[2:INIT]") {
        unlink(fifo.c_str());
        return already_started();
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "start container ", id, ": program not running after ", absl::FormatDuration(timeout_)));
    }
  }
  if (got == 0) return already_started();
  if (unlink(fifo.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("start container ", id, ": remove ", fifo));
  }
  return absl::OkStatus();
}

absl::Status Runc::Kill(const std::string& id, int signal, bool all) const {
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.push_back(id);
  args.push_back(std::to_string(signal));
  return Run("kill", id, args, nullptr);
}

absl::Status Runc::Delete(const std::string& id, bool force) const {
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  return Run("delete", id, args, nullptr);
}

absl::StatusOr<std::vector<RuncState>> Runc::List() const {
  std::string out;
  absl::Status s = Run("list", "*", {"list", "--format", "json"}, &out);
  if (!s.ok()) return s;
  std::vector<RuncState> states;
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_null()) return states;  // runc prints "null" for none
  if (j.is_discarded() || !j.is_array()) {
    return absl::InternalError(absl::StrCat("list containers: runc list is not JSON: ", out));
  }
  for (const auto& c : j) {
    RuncState st;
    st.id = c.value("id", "");
    st.status = c.value("status", "");
    st.pid = c.value("pid", 0);
    states.push_back(std::move(st));
  }
  return states;
}

std::vector<std::string> Runc::ExecArgv(const std::string& id, const ExecProcess& process) const {
  std::vector<std::string> argv = {binary_, "--root", root_};
  if (!process.log_file.empty()) {
    argv.insert(argv.end(), {"--log", process.log_file, "--log-format", "json"});
  }
  argv.push_back("exec");
  if (process.tty) argv.push_back("--tty");
  if (!process.pid_file.empty()) argv.insert(argv.end(), {"--pid-file", process.pid_file});
  if (!process.cwd.empty()) argv.insert(argv.end(), {"--cwd", process.cwd});
  for (const std::string& e : process.env) argv.insert(argv.end(), {"--env", e});
  argv.push_back(id);
  argv.insert(argv.end(), process.args.begin(), process.args.end());
  return argv;
}

std::string FindRunc() { return FindExecutable("runc"); }

}  // namespace berth::runtime::oci
