// berthctl logs and exec against berthd end to end: logs -f across a log
// rotation, tail/since/timestamps, exec's exit codes and stdin, its
// timeout, and `exec -it` driven through a pseudo-terminal.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/berthctl_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Manifest(const std::string& name, const std::string& script,
                     const std::string& extra_spec = "") {
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ",
                      name, "\nspec:\n  image: busybox\n  command: [\"sh\", \"-c\", ",
                      nlohmann::json(script).dump(), "]\n", extra_spec);
}

// A process whose stdout and stderr go to a file, waited for with a bound.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& out) : out_(out) {
    runtime::UniqueFd fd(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    runtime::SpawnOptions o;
    o.stdout_fd = fd.get();
    o.stderr_fd = fd.get();
    absl::StatusOr<pid_t> pid = runtime::Spawn(argv, o);
    EXPECT_TRUE(pid.ok()) << pid.status();
    pid_ = pid.ok() ? *pid : -1;
  }
  ~Background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code, or -1 when it did not exit within `timeout` (then killed).
  int Wait(absl::Duration timeout) {
    int status = 0;
    const bool exited =
        WaitFor([&] { return pid_ <= 0 || waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
    if (!exited || pid_ <= 0) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Kill() {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }
  std::string Output() const {
    auto s = runtime::ReadFile(out_, 64 << 20);
    return s.ok() ? *s : "";
  }

 private:
  std::string out_;
  pid_t pid_ = -1;
};

using BerthctlIoE2eTest = BerthctlE2eTest;

TEST_F(BerthctlIoE2eTest, LogsFollowsAcrossARotationAndTailsSinceAndTimestamps) {
  StartBerthd();
  // About 11.7 MB of CRI entries once told to go: the 10 MiB log rotates
  // once while `logs -f` follows it.
  constexpr int kLines = 250000;
  Write("talker.yaml", Manifest("talker",
                                absl::StrCat("while [ ! -e /tmp/go ]; do sleep 0.1; done; "
                                             "echo first; echo oops >&2; seq -w 1 ",
                                             kLines, "; echo END"),
                                "  restartPolicy: Never\n"));
  WaitStatusFile(
      world_.berth_state_dir(), "default.talker",
      [](const nlohmann::json& s) { return s["phase"] == "Running"; }, kWait);

  Background follow({BERTH_BERTHCTL_PATH, "--socket=" + socket(), "logs", "-f", "talker"},
                    world_.dir() + "/follow.out");
  // The follow is under way (an empty log so far) before the output starts.
  absl::SleepFor(absl::Milliseconds(500));
  runtime::CommandResult go = Berthctl({"exec", "talker", "--", "touch", "/tmp/go"});
  ASSERT_EQ(go.exit_code, 0) << go.output;
  // The container exits after END: the follow ends by itself.
  ASSERT_EQ(follow.Wait(absl::Seconds(90)), 0) << follow.Output().substr(0, 2000);
  const std::string log_dir = world_.state_dir() + "/default.talker";
  EXPECT_EQ(access((log_dir + "/container.log.1").c_str(), F_OK), 0) << "the log never rotated";

  std::vector<std::string> lines = absl::StrSplit(follow.Output(), '\n');
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "") << "output ends with a newline";
  lines.pop_back();
  ASSERT_EQ(lines.size(), kLines + 3u);
  // stdout in order, every line once; stderr's one line anywhere before.
  std::vector<std::string> out;
  for (const std::string& l : lines) {
    if (l != "oops") out.push_back(l);
  }
  ASSERT_EQ(out.size(), kLines + 2u) << "the stderr line is missing";
  EXPECT_EQ(out.front(), "first");
  for (int i = 1; i <= kLines; ++i) {
    ASSERT_EQ(out[i], absl::StrFormat("%06d", i)) << "line " << i;
  }
  EXPECT_EQ(out.back(), "END");

  runtime::CommandResult r = Berthctl({"logs", "--tail", "3", "talker"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, absl::StrFormat("%06d\n%06d\nEND\n", kLines - 1, kLines));
  r = Berthctl({"logs", "--tail=1", "--timestamps", "talker"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(
      std::regex_match(r.output, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z END\n)")))
      << r.output;
  r = Berthctl({"logs", "--since", "1h", "--tail", "2", "talker"});
  EXPECT_EQ(r.output, absl::StrFormat("%06d\nEND\n", kLines));
  absl::SleepFor(absl::Seconds(2));
  r = Berthctl({"logs", "--since", "1s", "talker"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "every line is older than a second";
  r = Berthctl({"logs", "nosuch"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("Error from server (NotFound)"));
  r = Berthctl({"logs", "--tail", "x", "talker"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--tail"));
}

class BerthctlExecE2eTest : public BerthctlE2eTest {
 protected:
  void StartShell() {
    StartBerthd();
    Write("shell.yaml", Manifest("shell", "trap 'exit 0' TERM; while true; do sleep 0.1; done"));
    WaitStatusFile(
        world_.berth_state_dir(), "default.shell",
        [](const nlohmann::json& s) { return s["phase"] == "Running"; }, kWait);
  }
};

TEST_F(BerthctlExecE2eTest, ExitCodesStreamsAndStdin) {
  StartShell();
  runtime::CommandResult r =
      Berthctl({"exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("out\n"));
  EXPECT_THAT(r.output, HasSubstr("err\n"));
  EXPECT_THAT(r.output, HasSubstr("command terminated with exit code 3"));

  r = Berthctl({"exec", "-i", "shell", "--", "sh", "-c", "cat; echo done"}, "hello\nworld\n");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hello\nworld\ndone\n");

  r = Berthctl({"exec", "shell", "--", "/no/such/program"});
  EXPECT_EQ(r.exit_code, 127) << r.output;

  r = Berthctl({"exec", "nosuch", "--", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (NotFound)"));

  r = Berthctl({"exec", "shell"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("error: exec takes a NAME and a command"));
}

TEST_F(BerthctlExecE2eTest, TimeoutKillsTheCommandAndWhatItStarted) {
  StartShell();
  const absl::Time begin = absl::Now();
  runtime::CommandResult r = Berthctl(
      {"exec", "--timeout=1s", "shell", "--", "sh", "-c", "sleep 1000 & echo started; sleep 1000"});
  EXPECT_LT(absl::Now() - begin, absl::Seconds(10));
  EXPECT_EQ(r.exit_code, 137) << r.output;
  EXPECT_THAT(r.output, HasSubstr("started"));
  EXPECT_THAT(r.output, HasSubstr("timeout"));
  r = Berthctl({"exec", "shell", "--", "ps"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("sleep 1000")));
}

TEST_F(BerthctlExecE2eTest, TheReadGroupMayReadLogsButNotExec) {
  constexpr uid_t kNobody = 65534;
  constexpr gid_t kNogroup = 65534;
  StartBerthd({"--api-group=" + std::to_string(kNogroup)});
  Write("shell.yaml",
        Manifest("shell", "echo hello; trap 'exit 0' TERM; while true; do sleep 0.1; done"));
  WaitStatusFile(
      world_.berth_state_dir(), "default.shell",
      [](const nlohmann::json& s) { return s["phase"] == "Running"; }, kWait);
  ASSERT_TRUE(WaitFor(
      [&] {
        return BerthctlAs(kNobody, kNogroup, {"logs", "shell"}).output == "hello\n";
      },
      kWait));
  runtime::CommandResult r = BerthctlAs(kNobody, kNogroup, {"exec", "shell", "--", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Error from server (Forbidden)"));
  EXPECT_EQ(Berthctl({"exec", "shell", "--", "true"}).exit_code, 0) << "root may";
}

TEST_F(BerthctlExecE2eTest, AClientThatGoesAwayTakesItsCommandWithIt) {
  StartShell();
  Background exec({BERTH_BERTHCTL_PATH, "--socket=" + socket(), "exec", "shell", "--", "sh", "-c",
                   "sleep 1000 & echo started; sleep 1000"},
                  world_.dir() + "/exec.out");
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(exec.Output(), "started"); }, kWait))
      << exec.Output();
  exec.Kill();
  EXPECT_NE(exec.Wait(absl::Seconds(10)), 0);
  // The call is cancelled: berthd kills the command and its child.
  EXPECT_TRUE(WaitFor(
      [&] {
        return !absl::StrContains(Berthctl({"exec", "shell", "--", "ps"}).output, "sleep 1000");
      },
      absl::Seconds(10)));
}

// Reads what the terminal shows until `needle` appears (or 10 s pass).
bool ReadUntil(int master, const std::string& needle, std::string* seen,
               const std::function<void()>& poke = nullptr) {
  return WaitFor(
      [&] {
        char buf[4096];
        pollfd p{master, POLLIN, 0};
        while (poll(&p, 1, 50) > 0) {
          const ssize_t n = read(master, buf, sizeof buf);
          if (n <= 0) break;
          seen->append(buf, static_cast<size_t>(n));
        }
        if (absl::StrContains(*seen, needle)) return true;
        if (poke) poke();
        return false;
      },
      absl::Seconds(10));
}

TEST_F(BerthctlExecE2eTest, InteractiveTerminalThroughAPseudoTerminal) {
  StartShell();
  struct winsize ws = {};
  ws.ws_row = 25;
  ws.ws_col = 90;
  int master = -1;
  const std::string socket_flag = "--socket=" + socket();
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(BERTH_BERTHCTL_PATH, BERTH_BERTHCTL_PATH, socket_flag.c_str(), "exec", "-it", "shell",
          "--", "sh", nullptr);
    _exit(99);
  }
  std::string seen;
  const auto type = [&](const std::string& s) {
    ASSERT_EQ(write(master, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  };
  // The container's shell sees a terminal of the local one's size (runc
  // sets it once the shell runs: ask until it shows).
  type("tty\n");
  EXPECT_TRUE(ReadUntil(master, "/dev/pts/", &seen)) << seen;
  EXPECT_TRUE(ReadUntil(master, "25 90", &seen, [&] { type("stty size\n"); })) << seen;
  // The window changes: berthctl gets SIGWINCH and passes the size on.
  ws.ws_row = 33;
  ws.ws_col = 111;
  ASSERT_EQ(ioctl(master, TIOCSWINSZ, &ws), 0);
  EXPECT_TRUE(ReadUntil(master, "33 111", &seen, [&] { type("stty size\n"); })) << seen;
  // Raw mode: a ^C is a byte for the container's terminal (its shell
  // discards the line), not a signal for berthctl.
  type("sleep 1000\x03");
  type("echo still $((40 + 2))\n");
  EXPECT_TRUE(ReadUntil(master, "still 42", &seen)) << seen;
  type("exit 5\n");
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, absl::Seconds(10)))
      << seen;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5) << seen;
  // berthctl put the terminal back as it found it.
  struct termios t = {};
  ASSERT_EQ(tcgetattr(master, &t), 0);
  EXPECT_TRUE((t.c_lflag & ICANON) != 0 && (t.c_lflag & ECHO) != 0);
  close(master);
}

}  // namespace
}  // namespace berth::testing
