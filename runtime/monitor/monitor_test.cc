// Tests of the berth-monitor binary against a fake runc (a /bin/sh script);
// see monitor_test_fixture.h for how each test runs the monitor.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/monitor/monitor_test_fixture.h"
#include "runtime/monitor/monitor_test_util.h"
#include "runtime/monitor/sys_util.h"

namespace berth::monitor {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;

TEST_F(MonitorTest, CreatesContainerLogsOutputAndRecordsExit) {
  SetInit("echo hello\necho oops >&2\nexit 3\n");
  const int64_t started = UnixNanos(RealtimeNow());

  pid_t pid = StartContainer();
  ASSERT_GT(pid, 0);
  json exit = WaitForExitFile();
  ExpectMonitorExits();

  EXPECT_EQ(exit["exit_code"], 3);
  EXPECT_EQ(exit["signal"], 0);
  EXPECT_EQ(exit["oom_killed"], false);
  EXPECT_TRUE(std::regex_match(exit["finished_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)")));
  EXPECT_GE(exit["finished_at_unix_nano"].get<int64_t>(), started);
  EXPECT_LE(exit["finished_at_unix_nano"].get<int64_t>(), UnixNanos(RealtimeNow()));
  EXPECT_FALSE(Exists(Path("exit.json.tmp")));
  EXPECT_THAT(ReadWholeFile(Path("runc-calls")),
              HasSubstr("--root " + Path("root") + " create --bundle " + Path("bundle") +
                        " --pid-file " + Path("container.pid") + " " + kId));

  std::vector<CriEntry> out = LogEntries("stdout");
  std::vector<CriEntry> err = LogEntries("stderr");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tag, "F");
  EXPECT_EQ(out[0].content, "hello");
  ASSERT_EQ(err.size(), 1u);
  EXPECT_EQ(err[0].tag, "F");
  EXPECT_EQ(err[0].content, "oops");
  struct stat st;
  ASSERT_EQ(stat(Path("ctr.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(MonitorTest, SurvivesItsSpawnerAndIsNotTheCallersChild) {
  ASSERT_EQ(mkfifo(Path("go").c_str(), 0600), 0);
  SetInit("read line < " + Path("go") + "\nexit 7\n");
  // A descriptor the monitor must not keep.
  int leaked = open(Path("runc").c_str(), O_RDONLY);
  ASSERT_GE(leaked, 0);

  pid_t pid = StartContainer();
  close(leaked);
  ASSERT_GT(pid, 0);
  // The spawner has exited (StartContainer checked status 0); the monitor
  // lives on, adopted by the reaper rather than by this process.
  EXPECT_NE(monitor_pid_, spawner_pid_);
  EXPECT_FALSE(ProcessGone(monitor_pid_));
  const std::string ppid = ProcStatField(monitor_pid_, 4);
  EXPECT_NE(ppid, std::to_string(getpid()));
  EXPECT_NE(ppid, std::to_string(spawner_pid_));
  EXPECT_EQ(ppid, std::to_string(reaper_pid_));
  // Own session and process group; stdio on /dev/null; nothing inherited.
  EXPECT_EQ(ProcStatField(monitor_pid_, 5), std::to_string(monitor_pid_));
  EXPECT_EQ(ProcStatField(monitor_pid_, 6), std::to_string(monitor_pid_));
  const std::string fd_dir = "/proc/" + std::to_string(monitor_pid_) + "/fd";
  EXPECT_EQ(std::filesystem::read_symlink(fd_dir + "/0"), "/dev/null");
  EXPECT_EQ(std::filesystem::read_symlink(fd_dir + "/2"), "/dev/null");
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator(fd_dir, ec)) {
    EXPECT_NE(std::filesystem::read_symlink(fd.path(), ec).string(), Path("runc"));
  }

  { std::ofstream(Path("go")) << "go\n"; }
  json exit = WaitForExitFile();
  EXPECT_EQ(exit["exit_code"], 7);
  ExpectMonitorExits();
}

TEST_F(MonitorTest, ReportsSignalDeathAs128PlusSignal) {
  SetInit("exec sleep 30\n");
  pid_t pid = StartContainer();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  json exit = WaitForExitFile();
  EXPECT_EQ(exit["exit_code"], 137);
  EXPECT_EQ(exit["signal"], 9);
  ExpectMonitorExits();
}

// A state directory that cannot take the exit file when the container
// exits (full, say): the monitor keeps trying and writes it once it can,
// rather than giving up (the exit code exists nowhere else). A directory
// in the way of its temporary file makes every attempt fail, as ENOSPC
// would, and an attempt cannot remove it.
TEST_F(MonitorTest, RetriesTheExitFileUntilItCanBeWritten) {
  SetInit("exec sleep 30\n");
  pid_t pid = StartContainer();
  ASSERT_GT(pid, 0);
  const std::string tmp = Path("exit.json.tmp");
  ASSERT_EQ(mkdir(tmp.c_str(), 0755), 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  usleep(800 * 1000);
  EXPECT_FALSE(Exists(Path("exit.json")));
  EXPECT_FALSE(ProcessGone(monitor_pid_)) << "the monitor gave up on the exit file";
  ASSERT_EQ(rmdir(tmp.c_str()), 0);  // writable again
  json exit = WaitForExitFile();
  EXPECT_EQ(exit["exit_code"], 137);
  ExpectMonitorExits();
}

TEST_F(MonitorTest, IgnoresSigtermSighupAndSigint) {
  SetInit("exec sleep 30\n");
  pid_t pid = StartContainer();
  ASSERT_GT(pid, 0);
  std::string sig_ign;
  std::istringstream status(ReadWholeFile("/proc/" + std::to_string(monitor_pid_) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("SigIgn:", 0) == 0) sig_ign = line.substr(7);
  }
  const unsigned long long ignored = std::stoull(sig_ign, nullptr, 16);
  for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGPIPE}) {
    EXPECT_TRUE(ignored & (1ULL << (sig - 1))) << "signal " << sig;
  }

  for (int sig : {SIGTERM, SIGHUP, SIGINT}) kill(monitor_pid_, sig);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Only a live monitor can record the container's death.
  json exit = WaitForExitFile();
  EXPECT_EQ(exit["exit_code"], 137);
  ExpectMonitorExits();
}

TEST_F(MonitorTest, ReportsRuncCreateFailureWithoutExitFile) {
  SetInit("exit 0\n");
  WriteWholeFile(Path("bundle/fail"), "bad \"config\"");
  StartMonitor();
  EXPECT_TRUE(WIFEXITED(spawner_status_) && WEXITSTATUS(spawner_status_) == 0);
  ExpectMonitorPidLine();
  json error = ReadSyncJson();
  ASSERT_TRUE(error.contains("error")) << error.dump();
  EXPECT_EQ(error["error"],
            "runc create: exit status 1: creating container c1: bad "
            "\"config\"");
  EXPECT_EQ(ReadSyncLine(), "");
  ExpectMonitorExits();
  EXPECT_FALSE(Exists(Path("exit.json")));
}

TEST_F(MonitorTest, ReportsMissingRuncBinary) {
  StartMonitor({"--runc", Path("no-such-runc")});
  ExpectMonitorPidLine();
  json error = ReadSyncJson();
  EXPECT_EQ(error["error"], "runc create: exit status 127: exec " + Path("no-such-runc") +
                                ": No such file or directory");
  ExpectMonitorExits();
  EXPECT_FALSE(Exists(Path("exit.json")));
}

TEST_F(MonitorTest, RejectsContainerPidThatIsNotItsChild) {
  SetInit("exit 0\n");
  WriteWholeFile(Path("bundle/pid-override"), "1\n");
  StartMonitor();
  ExpectMonitorPidLine();
  json error = ReadSyncJson();
  EXPECT_EQ(error["error"],
            "wait for container process 1 from " + Path("container.pid") + ": No child processes");
  ExpectMonitorExits();
  EXPECT_FALSE(Exists(Path("exit.json")));
}

TEST_F(MonitorTest, RejectsGarbageContainerPidFile) {
  SetInit("exit 0\n");
  WriteWholeFile(Path("bundle/pid-override"), "not-a-pid\n");
  StartMonitor();
  ExpectMonitorPidLine();
  json error = ReadSyncJson();
  EXPECT_EQ(error["error"],
            "parse container pid file " + Path("container.pid") + ": \"not-a-pid\" is not a pid");
  ExpectMonitorExits();
}

TEST_F(MonitorTest, RunsNothingUntilGoAndNothingWhenTheSpawnerGivesUp) {
  SetInit("exit 0\n");
  StartMonitor();
  ExpectMonitorPidLine(/*go=*/false);
  usleep(100 * 1000);
  EXPECT_FALSE(ProcessGone(monitor_pid_)) << "it waits";
  CloseSync();  // what a spawner that gives up (or dies) does
  ExpectMonitorExits();
  // It wrote nothing (a new container of the same id may already use the
  // directory) and ran nothing.
  for (const char* file : {"runc-calls", "monitor.pid", "ctr.log", "exit.json"}) {
    EXPECT_FALSE(Exists(Path(file))) << file;
  }
}

TEST_F(MonitorTest, AnythingButGoIsRefused) {
  SetInit("exit 0\n");
  StartMonitor();
  ExpectMonitorPidLine(/*go=*/false);
  SendSync("gone\n");
  json error = ReadSyncJson();
  EXPECT_EQ(error["error"], "expected \"go\" on the sync fd, got \"gone\"");
  ExpectMonitorExits();
  EXPECT_FALSE(Exists(Path("runc-calls")));
}

TEST_F(MonitorTest, KillingTheMonitorGroupTakesRuncCreateWithIt) {
  // What the runtime does when runc create times out.
  SetInit("exit 0\n");
  WriteWholeFile(Path("bundle/hang"), "");
  StartMonitor();
  ExpectMonitorPidLine();
  ASSERT_TRUE(WaitFor([&] { return !ReadWholeFile(Path("runc.pid")).empty(); }));
  const pid_t runc = std::stoi(ReadWholeFile(Path("runc.pid")));
  // Once runc is past the shell (exec sleep), it holds stdin, stdout and
  // stderr only: it must not have inherited the sync fd or anything else.
  const std::string fd_dir = "/proc/" + std::to_string(runc) + "/fd";
  const auto count_fds = [&] {
    std::error_code ec;
    int count = 0;
    for (auto it = std::filesystem::directory_iterator(fd_dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++count;
    }
    return count;
  };
  EXPECT_TRUE(WaitFor([&] {
    return ReadWholeFile("/proc/" + std::to_string(runc) + "/comm") == "sleep\n" &&
           count_fds() == 3;
  })) << "runc fds: "
      << count_fds();

  ASSERT_EQ(kill(-monitor_pid_, SIGKILL), 0);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(runc); }));
  EXPECT_EQ(ReadSyncLine(), "");
  ExpectMonitorExits();
  EXPECT_FALSE(Exists(Path("exit.json")));
}

TEST_F(MonitorTest, RotatesLogWithinCapAndFileCount) {
  SetInit(
      "i=0\n"
      "while [ $i -lt 100 ]; do echo \"line $i\"; i=$((i+1)); done\n");
  ASSERT_GT(StartContainer({"--log-max-bytes", "400", "--log-max-files", "3"}), 0);
  WaitForExitFile();
  ExpectMonitorExits();

  EXPECT_TRUE(Exists(Path("ctr.log")));
  EXPECT_TRUE(Exists(Path("ctr.log.1")));
  EXPECT_TRUE(Exists(Path("ctr.log.2")));
  EXPECT_FALSE(Exists(Path("ctr.log.3")));
  for (const char* name : {"ctr.log", "ctr.log.1", "ctr.log.2"}) {
    EXPECT_LE(std::filesystem::file_size(Path(name)), 400u) << name;
  }
  // Rotation keeps the newest entries, in order, across the files.
  std::vector<std::string> lines;
  for (const char* name : {"ctr.log.2", "ctr.log.1", "ctr.log"}) {
    for (const CriEntry& entry : ParseCriLog(Path(name))) {
      EXPECT_EQ(entry.tag, "F");
      lines.push_back(entry.content);
    }
  }
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "line 99");
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(std::stoi(lines[i].substr(5)), std::stoi(lines[i - 1].substr(5)) + 1);
  }
}

TEST_F(MonitorTest, TruncatesWhenOnlyOneLogFileIsAllowed) {
  SetInit(
      "i=0\n"
      "while [ $i -lt 100 ]; do echo \"line $i\"; i=$((i+1)); done\n");
  ASSERT_GT(StartContainer({"--log-max-bytes", "400", "--log-max-files", "1"}), 0);
  WaitForExitFile();
  ExpectMonitorExits();
  EXPECT_FALSE(Exists(Path("ctr.log.1")));
  EXPECT_LE(std::filesystem::file_size(Path("ctr.log")), 400u);
  std::vector<CriEntry> out = LogEntries("stdout");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().content, "line 99");
}

TEST_F(MonitorTest, SplitsLongLinesIntoPartialEntries) {
  SetInit(
      "head -c 40000 /dev/zero | tr '\\0' a\n"
      "echo\n"
      "echo short\n"
      "printf 'no newline'\n");
  ASSERT_GT(StartContainer(), 0);
  WaitForExitFile();
  ExpectMonitorExits();

  std::vector<CriEntry> out = LogEntries("stdout");
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].tag, "P");
  EXPECT_EQ(out[0].content.size(), 16384u);
  EXPECT_EQ(out[1].tag, "P");
  EXPECT_EQ(out[1].content.size(), 16384u);
  EXPECT_EQ(out[2].tag, "F");
  EXPECT_EQ(out[0].content + out[1].content + out[2].content, std::string(40000, 'a'));
  EXPECT_EQ(out[3].tag, "F");
  EXPECT_EQ(out[3].content, "short");
  EXPECT_EQ(out[4].tag, "F");
  EXPECT_EQ(out[4].content, "no newline");
}

TEST_F(MonitorTest, KillAllRunsRuncKillBeforeTheExitFile) {
  // The init leaves a process behind that holds the stdout pipe, like a
  // daemon in a host-PID container; only runc kill --all gets rid of it.
  SetInit("sleep 30 &\necho $! > " + Path("root/extra.pid") + "\nexit 0\n");
  ASSERT_GT(StartContainer({"--kill-all"}), 0);
  json exit = WaitForExitFile();
  const pid_t extra = std::stoi(ReadWholeFile(Path("root/extra.pid")));
  // The exit file waits for runc kill, which writes the marker first.
  EXPECT_THAT(ReadWholeFile(Path("kill-marker")), HasSubstr("kill --all c1 KILL"));
  EXPECT_THAT(ReadWholeFile(Path("runc-calls")),
              HasSubstr("--root " + Path("root") + " kill --all c1 KILL"));
  EXPECT_EQ(exit["exit_code"], 0);
  // runc kill --all took the pipe holder with it.
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(extra); }));
  ExpectMonitorExits();
}

TEST_F(MonitorTest, DrainIsBoundedWhenAnotherProcessHoldsThePipes) {
  SetInit("sleep 30 &\necho $! > " + Path("extra.pid") + "\necho done\nexit 0\n");
  ASSERT_GT(StartContainer(), 0);
  json exit = WaitForExitFile(3 * kTestWaitMs);
  EXPECT_EQ(exit["exit_code"], 0);
  std::vector<CriEntry> out = LogEntries("stdout");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].content, "done");
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(monitor_pid_); }));
  // The leftover sleep is the container's business, not the monitor's.
  kill(std::stoi(ReadWholeFile(Path("extra.pid"))), SIGKILL);
  ExpectMonitorExits();
}

TEST_F(MonitorTest, ReadsOomKillFromCgroupFile) {
  WriteWholeFile(Path("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  SetInit("exit 137\n");
  ASSERT_GT(StartContainer({"--oom-file", Path("memory.oom_control")}), 0);
  json exit = WaitForExitFile();
  ExpectMonitorExits();
  EXPECT_EQ(exit["oom_killed"], true);
  EXPECT_EQ(exit["exit_code"], 137);
}

TEST_F(MonitorTest, NoOomWhenCounterIsZeroOrFileMissing) {
  WriteWholeFile(Path("memory.events"),
                 "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\noom_group_kill 0\n");
  SetInit("exit 0\n");
  ASSERT_GT(StartContainer({"--oom-file", Path("memory.events")}), 0);
  EXPECT_EQ(WaitForExitFile()["oom_killed"], false);
  ExpectMonitorExits();
}

TEST_F(MonitorTest, MissingOomFileMeansNotOomKilled) {
  SetInit("exit 0\n");
  ASSERT_GT(StartContainer({"--oom-file", Path("gone/memory.events")}), 0);
  EXPECT_EQ(WaitForExitFile()["oom_killed"], false);
  ExpectMonitorExits();
}

TEST_F(MonitorTest, ResidentSetStaysUnderOneMegabyte) {
  SetInit("echo ready\nexec sleep 30\n");
  pid_t pid = StartContainer();
  ASSERT_GT(pid, 0);
  // Measure once the monitor has logged something (its steady state).
  ASSERT_TRUE(WaitFor([&] { return !LogEntries("stdout").empty(); }));
  const long rss = ProcStatusKb(monitor_pid_, "VmRSS");
  const long anon = ProcStatusKb(monitor_pid_, "RssAnon");
  const long file = ProcStatusKb(monitor_pid_, "RssFile");
  printf("berth-monitor VmRSS: %ld kB (RssAnon %ld kB, RssFile %ld kB)\n", rss, anon, file);
  RecordProperty("VmRSS_kB", static_cast<int>(rss));
  EXPECT_GT(rss, 0);
  EXPECT_LT(rss, 1024);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  WaitForExitFile();
  ExpectMonitorExits();
}

TEST_F(MonitorTest, RejectsMissingRequiredFlag) {
  std::vector<std::string> args = RequiredArgs(STDERR_FILENO);
  args.erase(args.begin() + 2, args.begin() + 4);  // --bundle DIR
  std::string stderr_text;
  int status = RunMonitorDirectly(args, &stderr_text);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(stderr_text, HasSubstr("missing required flag --bundle"));
  EXPECT_FALSE(Exists(Path("monitor.pid")));
}

TEST_F(MonitorTest, RejectsUnknownFlagAndBadSyncFd) {
  std::vector<std::string> args = RequiredArgs(STDERR_FILENO);
  args.push_back("--frobnicate");
  std::string stderr_text;
  int status = RunMonitorDirectly(args, &stderr_text);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(stderr_text, HasSubstr("unknown flag --frobnicate"));

  stderr_text.clear();
  status = RunMonitorDirectly(RequiredArgs(987), &stderr_text);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_THAT(stderr_text, HasSubstr("--sync-fd 987"));
}

}  // namespace
}  // namespace berth::monitor
