// berthctl exec [-i] [-t] [-n NS] [--timeout D] NAME -- CMD [ARG...]: runs
// a command in a running container, as `kubectl exec`. -i passes stdin
// (its end ends the command's input); -t gives the command a terminal: the
// local one goes into raw mode for the call (with -i) and its size follows the
// window (SIGWINCH). berthctl exits with the command's exit code.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "controller/berthctl/args.h"
#include "controller/berthctl/cli.h"

namespace berth::berthctl {
namespace {

using ExecStream = grpc::ClientReaderWriter<v1::ExecInput, v1::ExecOutput>;

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader is gone: nothing to do about it
    done += static_cast<size_t>(n);
  }
}

// The local terminal in raw mode while it lives.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    struct termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() { Restore(); }
  void Restore() {
    if (active_) tcsetattr(fd_, TCSANOW, &saved_);
    active_ = false;
  }

 private:
  int fd_;
  struct termios saved_ = {};
  bool active_ = false;
};

bool TerminalSize(int fd, v1::TerminalSize* size) {
  struct winsize ws = {};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return false;
  size->set_rows(ws.ws_row);
  size->set_cols(ws.ws_col);
  return true;
}

// Sends stdin (when `with_stdin`) and, with a terminal, its resizes
// (signalfd of SIGWINCH, blocked by the caller) until `stop` is signalled;
// ends its side of the call when stdin ends without a terminal.
void SendInput(ExecStream* stream, bool with_stdin, bool tty, int stop, int winch,
               bool* writes_done) {
  bool stdin_open = with_stdin;
  if (!stdin_open && !tty) {
    *writes_done = stream->WritesDone();
    return;
  }
  char buf[32 * 1024];
  while (true) {
    pollfd p[3];
    int n = 0;
    p[n++] = {stop, POLLIN, 0};
    const int winch_i = tty && winch >= 0 ? n : -1;
    if (winch_i >= 0) p[n++] = {winch, POLLIN, 0};
    const int in_i = stdin_open ? n : -1;
    if (in_i >= 0) p[n++] = {STDIN_FILENO, POLLIN, 0};
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents != 0) return;
    v1::ExecInput input;
    if (winch_i >= 0 && p[winch_i].revents != 0) {
      struct signalfd_siginfo info;
      while (read(winch, &info, sizeof info) > 0) {
      }
      if (TerminalSize(STDIN_FILENO, input.mutable_resize()) && !stream->Write(input)) return;
    }
    if (in_i >= 0 && p[in_i].revents != 0) {
      const ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) {
        input.set_stdin(buf, static_cast<size_t>(got));
        if (!stream->Write(input)) return;
        continue;
      }
      stdin_open = false;
      input.set_close_stdin(true);
      if (!stream->Write(input)) return;
      if (!tty) {
        *writes_done = stream->WritesDone();
        return;
      }
    }
  }
}

}  // namespace

int RunExec(Cli& cli, const std::vector<std::string>& argv) {
  // Before any thread exists, so that SIGWINCH reaches the signalfd alone.
  sigset_t winch_set;
  sigemptyset(&winch_set);
  sigaddset(&winch_set, SIGWINCH);
  pthread_sigmask(SIG_BLOCK, &winch_set, nullptr);

  absl::StatusOr<Args> args = ParseArgs(
      argv,
      {{"stdin", 'i', false}, {"tty", 't', false}, {"namespace", 'n', true}, {"timeout", 0, true}});
  if (!args.ok()) return cli.Fail(args.status());
  if (args->positional.size() != 1 || args->rest.empty()) {
    return cli.Fail(
        "exec takes a NAME and a command: berthctl exec [-i] [-t] NAME -- CMD [ARG...]");
  }
  bool tty = args->Has("tty");
  const bool with_stdin = args->Has("stdin");
  if (tty && !isatty(STDIN_FILENO)) {
    cli.err() << "Unable to use a TTY - input is not a terminal or the right kind of file\n";
    tty = false;
  }
  v1::ExecInput first;
  v1::ExecStart* start = first.mutable_start();
  start->mutable_ref()->set_namespace_(args->Value("namespace", "default"));
  start->mutable_ref()->set_name(args->positional[0]);
  for (const std::string& a : args->rest) start->add_command(a);
  start->set_tty(tty);
  start->set_stdin(with_stdin);
  if (tty) TerminalSize(STDIN_FILENO, start->mutable_size());
  if (args->Has("timeout")) {
    absl::Duration timeout;
    if (!absl::ParseDuration(args->Value("timeout"), &timeout) || timeout <= absl::ZeroDuration()) {
      return cli.Fail("invalid argument \"" + args->Value("timeout") +
                      "\" for \"--timeout\": a duration such as 30s or 5m");
    }
    const int64_t nanos = absl::ToInt64Nanoseconds(timeout);
    start->mutable_timeout()->set_seconds(nanos / 1000000000);
    start->mutable_timeout()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }

  grpc::ClientContext context;
  std::unique_ptr<ExecStream> stream = cli.Api().Exec(&context);
  // Raw only when the keys go to the command: without -i, ^C still stops
  // berthctl (and with it the command).
  std::optional<RawTerminal> raw;
  if (tty && with_stdin) raw.emplace(STDIN_FILENO);
  const int stop = eventfd(0, EFD_CLOEXEC);
  const int winch = tty ? signalfd(-1, &winch_set, SFD_CLOEXEC | SFD_NONBLOCK) : -1;
  bool writes_done = false;
  std::thread input;
  if (stream->Write(first)) {
    input = std::thread(SendInput, stream.get(), with_stdin, tty, stop, winch, &writes_done);
  }
  std::optional<v1::ExecExit> exit;
  v1::ExecOutput output;
  while (!exit.has_value() && stream->Read(&output)) {
    if (output.has_exit()) {
      exit = output.exit();
    } else if (output.output_case() == v1::ExecOutput::kStdout) {
      WriteAll(STDOUT_FILENO, output.stdout());
    } else if (output.output_case() == v1::ExecOutput::kStderr) {
      WriteAll(STDERR_FILENO, output.stderr());
    }
  }
  const uint64_t one = 1;
  if (write(stop, &one, sizeof one) < 0) {
    // An eventfd write only fails on overflow: it is signalled.
  }
  if (input.joinable()) input.join();
  if (!writes_done) stream->WritesDone();
  while (stream->Read(&output)) {
  }
  grpc::Status status = stream->Finish();
  close(stop);
  if (winch >= 0) close(winch);
  if (raw.has_value()) raw->Restore();
  if (exit.has_value()) {
    if (exit->exit_code() != 0) {
      cli.err() << "command terminated with exit code " << exit->exit_code();
      if (!exit->reason().empty()) cli.err() << " (" << exit->reason() << ")";
      cli.err() << "\n";
    }
    return exit->exit_code();
  }
  if (!status.ok()) return cli.Fail(status);
  return cli.Fail("exec: berthd ended the call without an exit code");
}

}  // namespace berth::berthctl
