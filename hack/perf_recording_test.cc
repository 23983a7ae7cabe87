// PerfRecording against stand-ins for perf (small scripts that speak its
// control fifo, fail, or print a report): what the benchmark sees when perf
// is missing, cannot record, hangs or reports.
#include "hack/perf_recording.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::bench {
namespace {

using ::testing::HasSubstr;

// A stand-in for `perf record`: answers each line of its control fifo with
// "ack", keeps the commands in the output file, and on SIGINT writes
// "finished" there and exits 0. `on_int` replaces that SIGINT handling.
std::string FakePerfRecord(const std::string& on_int = "") {
  return absl::StrCat(R"(#!/usr/bin/python3
import signal, sys
args = sys.argv[1:]
ctl, ack = args[args.index("--control") + 1][len("fifo:"):].split(",")
out = args[args.index("-o") + 1]
def finish(*_):
    with open(out, "a") as f:
        f.write("finished\n")
    sys.exit(0)
signal.signal(signal.SIGINT, finish)
)",
                      on_int, R"(
with open(ctl) as c, open(ack, "w") as a:
    for line in c:
        with open(out, "a") as f:
            f.write(line)
        a.write("ack\n")
        a.flush()
)");
}

class PerfRecordingTest : public ::testing::Test {
 protected:
  // Writes an executable `name` into the test's directory; its path.
  std::string Script(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(runtime::WriteFileAtomic(path, text).ok());
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
  }
  std::string Read(const std::string& path) {
    return runtime::ReadFile(path, 1 << 20).value_or("<none>");
  }
  bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

  testing::TempDir dir_{"berth-test-perf"};
};

TEST_F(PerfRecordingTest, SamplingIsTurnedOnAndOffAndTheRecordingFinished) {
  const std::string perf = Script("perf", FakePerfRecord());
  const std::string out = dir_.path() + "/r.data";
  auto r = PerfRecording::Start(perf, out, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(Exists(out + ".ctl"));
  ASSERT_TRUE((*r)->Enable().ok());
  ASSERT_TRUE((*r)->Disable().ok());
  ASSERT_TRUE((*r)->Finish().ok());
  // Started with sampling off (its first command, once perf reads the
  // fifo), then on and off again, then stopped.
  EXPECT_EQ(Read(out), "disable\nenable\ndisable\nfinished\n");
  EXPECT_THAT((*r)->Finish().ToString(), HasSubstr("not running"));
  r->reset();
  EXPECT_FALSE(Exists(out + ".ctl"));
  EXPECT_FALSE(Exists(out + ".ack"));
}

TEST_F(PerfRecordingTest, AMissingPerfIsNamedAndLeavesNoFifo) {
  const std::string out = dir_.path() + "/r.data";
  auto r = PerfRecording::Start(dir_.path() + "/no-perf", out, "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), HasSubstr(dir_.path() + "/no-perf"));
  EXPECT_FALSE(Exists(out + ".ctl"));
  EXPECT_FALSE(Exists(out + ".ack"));
}

// perf that cannot record (no perf events on this machine, say) exits at
// once: the error says so and names the log that holds perf's reason.
TEST_F(PerfRecordingTest, APerfThatExitsAtOnceIsReportedWithItsLog) {
  const std::string perf =
      Script("perf", "#!/bin/sh\necho 'perf_event_open: no such device' >&2\nexit 2\n");
  const std::string out = dir_.path() + "/r.data";
  const absl::Time start = absl::Now();
  auto r = PerfRecording::Start(perf, out, "");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "not noticed until the 60 s deadline";
  EXPECT_THAT(r.status().ToString(), HasSubstr("perf exited (exit code 2; see " + out + ".log)"));
  EXPECT_EQ(Read(out + ".log"), "perf_event_open: no such device\n");
  EXPECT_FALSE(Exists(out + ".ctl"));
}

// perf that dies while recording: the next command fails, naming the log.
TEST_F(PerfRecordingTest, APerfThatDiesWhileRecordingFailsTheNextCommand) {
  const std::string perf = Script("perf", FakePerfRecord());
  const std::string out = dir_.path() + "/r.data";
  auto r = PerfRecording::Start(perf, out, "");
  ASSERT_TRUE(r.ok()) << r.status();
  // SIGKILL: nothing can handle it.
  ASSERT_EQ(system(absl::StrCat("pkill -KILL -f '^/usr/bin/python3 ", perf, " '").c_str()), 0);
  const absl::Status enable = (*r)->Enable();
  EXPECT_THAT(enable.ToString(),
              HasSubstr("perf exited (killed by signal 9; see " + out + ".log)"));
  const absl::Time start = absl::Now();
  EXPECT_THAT((*r)->Disable().ToString(), HasSubstr("not running"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "waited for an answer from no perf";
  EXPECT_THAT((*r)->Finish().ToString(), HasSubstr("not running"));
}

// perf that does not stop writing is killed once Finish's time is up.
TEST_F(PerfRecordingTest, APerfThatDoesNotFinishIsKilledAfterTheTimeout) {
  const std::string perf =
      Script("perf", FakePerfRecord("signal.signal(signal.SIGINT, signal.SIG_IGN)"));
  const std::string out = dir_.path() + "/r.data";
  auto r = PerfRecording::Start(perf, out, "");
  ASSERT_TRUE(r.ok()) << r.status();
  const absl::Time start = absl::Now();
  const absl::Status finish = (*r)->Finish(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "killed long after the timeout";
  EXPECT_EQ(finish.code(), absl::StatusCode::kDeadlineExceeded) << finish;
  EXPECT_THAT(finish.ToString(), HasSubstr("perf did not finish writing " + out + " in 300ms"));
  EXPECT_EQ(Read(out), "disable\n");
}

TEST_F(PerfRecordingTest, CpuByCommandSumsThePeriodsOfEachCommand) {
  // `perf report --sort comm -F period,comm`: a period in ns, then the
  // command; remarks and the idle task are left out, kernel threads are
  // counted by their name before the '/'.
  const std::string perf = Script("perf", R"(#!/bin/sh
[ "$1" = report ] || exit 9
cat <<'EOF'
# a remark
     12500000  runc
      3000000  kworker/1:2
      1000000  kworker/0:1H
     99000000  swapper
       500000  runc:[2:INIT]
EOF
)");
  auto ms = CpuMsByCommand(perf, dir_.path() + "/r.data");
  ASSERT_TRUE(ms.ok()) << ms.status();
  EXPECT_EQ(*ms, (std::map<std::string, double>{
                     {"runc", 12.5}, {"kworker", 4.0}, {"runc:[2:INIT]", 0.5}}));
}

TEST_F(PerfRecordingTest, AFailedReportIsAnErrorWithPerfsWords) {
  const std::string perf = Script("perf", "#!/bin/sh\necho 'no such file: r.data' >&2\nexit 1\n");
  auto ms = CpuMsByCommand(perf, dir_.path() + "/r.data");
  ASSERT_FALSE(ms.ok());
  EXPECT_THAT(ms.status().ToString(), HasSubstr("no such file: r.data"));
}

}  // namespace
}  // namespace berth::bench
