// ReadLogs on hand-made files, and following berth-monitor's own writer
// (CriLogWriter) while it rotates or truncates.
#include "runtime/logs/log_reader.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/monitor/cri_log_writer.h"
#include "tests/temp_dir.h"

namespace berth::runtime::logs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string Ts(int second) { return absl::StrFormat("2026-01-01T00:00:%02d.000000000Z", second); }

// A control whose writer is alive while `alive` holds.
FollowControl WhileAlive(const std::atomic<bool>& alive) {
  FollowControl c;
  c.writer_alive = [&alive] { return alive.load(); };
  return c;
}

void WriteRaw(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Collects what a read sends, as "<stream>:<content>" ("~" marks a partial line).
struct Collector {
  absl::Mutex mu;
  std::vector<std::string> lines;
  LineSink Sink() {
    return [this](const LogLine& l) {
      absl::MutexLock lock(&mu);
      lines.push_back(absl::StrCat(LogStreamName(l.stream), ":", l.content, l.partial ? "~" : ""));
      return true;
    };
  }
  size_t size() {
    absl::MutexLock lock(&mu);
    return lines.size();
  }
  std::vector<std::string> Get() {
    absl::MutexLock lock(&mu);
    return lines;
  }
};

class LogReaderTest : public ::testing::Test {
 protected:
  // FILE.2 (oldest), FILE.1, FILE: six lines, one split in P pieces across
  // a rotation, a torn last line in the live file.
  void WriteRotatedSet() {
    WriteRaw(log_ + ".2", absl::StrCat(Ts(1), " stdout F one\n", Ts(2), " stderr F two\n"));
    WriteRaw(log_ + ".1",
             absl::StrCat(Ts(3), " stdout F three\n", "not an entry\n", Ts(4), " stdout P fo\n"));
    WriteRaw(log_, absl::StrCat(Ts(5), " stdout F ur\n", Ts(6), " stderr F five\n", Ts(7),
                                " stdout F six\n", Ts(8), " stdout F tor"));
  }

  std::vector<std::string> Read(const LogReadOptions& options) {
    Collector c;
    absl::Status s = ReadLogs(log_, options, {}, c.Sink());
    EXPECT_TRUE(s.ok()) << s;
    return c.Get();
  }

  testing::TempDir dir_;
  std::string log_ = dir_.path() + "/container.log";
};

TEST_F(LogReaderTest, ReadsRotatedFilesOldestFirstAndLeavesTheTornLineOut) {
  WriteRotatedSet();
  EXPECT_THAT(Read({}), ElementsAre("stdout:one", "stderr:two", "stdout:three", "stdout:four",
                                    "stderr:five", "stdout:six"));
}

TEST_F(LogReaderTest, TailCountsWholeLinesAcrossFiles) {
  WriteRotatedSet();
  LogReadOptions o;
  o.tail_lines = 4;
  EXPECT_THAT(Read(o), ElementsAre("stdout:three", "stdout:four", "stderr:five", "stdout:six"));
  o.tail_lines = 0;
  EXPECT_THAT(Read(o), IsEmpty());
  o.tail_lines = 100;
  EXPECT_EQ(Read(o).size(), 6u);
}

TEST_F(LogReaderTest, SinceAndStreamSelection) {
  WriteRotatedSet();
  LogReadOptions o;
  o.since = absl::FromUnixSeconds(1767225600 + 4);  // 2026-01-01T00:00:04Z
  EXPECT_THAT(Read(o), ElementsAre("stdout:four", "stderr:five", "stdout:six"));
  o = {};
  o.include_stdout = false;
  EXPECT_THAT(Read(o), ElementsAre("stderr:two", "stderr:five"));
  o.include_stdout = true;
  o.include_stderr = false;
  o.tail_lines = 2;
  EXPECT_THAT(Read(o), ElementsAre("stdout:four", "stdout:six"));
}

TEST_F(LogReaderTest, PiecesWithoutTheirEndComeAsAPartialLine) {
  WriteRaw(log_, absl::StrCat(Ts(1), " stdout P abc\n", Ts(2), " stderr F x\n"));
  EXPECT_THAT(Read({}), ElementsAre("stderr:x", "stdout:abc~"));
}

TEST_F(LogReaderTest, TornLastLineOfARotatedFileIsReadAsItIs) {
  WriteRaw(log_ + ".1", absl::StrCat(Ts(1), " stdout F cut sho"));
  WriteRaw(log_, absl::StrCat(Ts(2), " stdout F next\n"));
  EXPECT_THAT(Read({}), ElementsAre("stdout:cut sho", "stdout:next"));
}

TEST_F(LogReaderTest, MissingLogIsNotFound) {
  Collector c;
  absl::Status s = ReadLogs(log_, {}, {}, c.Sink());
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

TEST_F(LogReaderTest, SinkCanEndTheRead) {
  WriteRotatedSet();
  int n = 0;
  ASSERT_TRUE(ReadLogs(log_, {}, {}, [&](const LogLine&) { return ++n < 2; }).ok());
  EXPECT_EQ(n, 2);
}

// Waits (up to 5 s) until `c` holds `n` lines.
bool WaitForLines(Collector* c, size_t n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (c->size() < n) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Follows while berth-monitor's writer, in another thread, writes `lines`
// lines of `width` characters (`burst`: all at once; else one at a time,
// each waited for), then says it is gone. Returns what the reader got.
// `backlog`: lines the reader sends before the writer starts.
std::vector<std::string> FollowWriter(const std::string& log, int64_t max_bytes, int max_files,
                                      int lines, bool burst, LogReadOptions o = {},
                                      size_t backlog = 0) {
  monitor::CriLogWriter writer(log, max_bytes, max_files);
  std::string error;
  EXPECT_TRUE(writer.Open(&error)) << error;
  Collector c;
  std::atomic<bool> writer_alive{true};
  o.follow = true;
  o.poll_interval = absl::Milliseconds(50);
  absl::Status status;
  std::thread reader([&] { status = ReadLogs(log, o, WhileAlive(writer_alive), c.Sink()); });
  EXPECT_TRUE(WaitForLines(&c, backlog));
  for (int i = 0; i < lines; ++i) {
    const std::string content = absl::StrFormat("line %04d", i);
    writer.AddEntry(Ts(i % 60), monitor::LogStream::kStdout, false, content.data(), content.size());
    writer.Flush();
    if (!burst) {
      EXPECT_TRUE(WaitForLines(&c, backlog + i + 1));
    }
  }
  writer_alive = false;
  reader.join();
  EXPECT_TRUE(status.ok()) << status;
  return c.Get();
}

std::vector<std::string> Expected(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(absl::StrFormat("stdout:line %04d", i));
  return out;
}

TEST_F(LogReaderTest, FollowsAcrossRotations) {
  // About three entries per file: a rotation every third line, each seen
  // by the reader waiting at the end of the live file.
  EXPECT_EQ(FollowWriter(log_, 150, 2, 30, /*burst=*/false), Expected(0, 30));
}

TEST_F(LogReaderTest, FollowCatchesUpWithSeveralRotationsAtOnce) {
  // Kept files outnumber the rotations: nothing is dropped, so everything
  // must arrive once and in order however the reader's wakeups fall.
  EXPECT_EQ(FollowWriter(log_, 150, 50, 90, /*burst=*/true), Expected(0, 90));
}

TEST_F(LogReaderTest, FollowsATruncatedSingleFile) {
  EXPECT_EQ(FollowWriter(log_, 150, 1, 20, /*burst=*/false), Expected(0, 20));
}

TEST_F(LogReaderTest, FollowWithTailStartsWithTheLastLines) {
  {
    monitor::CriLogWriter writer(log_, 150, 5);
    std::string error;
    ASSERT_TRUE(writer.Open(&error)) << error;
    for (int i = 0; i < 8; ++i) {
      const std::string content = absl::StrFormat("old %d", i);
      writer.AddEntry(Ts(i), monitor::LogStream::kStderr, false, content.data(), content.size());
    }
    writer.Flush();
  }
  LogReadOptions o;
  o.tail_lines = 2;
  std::vector<std::string> got = FollowWriter(log_, 150, 5, 3, /*burst=*/true, o, /*backlog=*/2);
  EXPECT_THAT(got, ElementsAre("stderr:old 6", "stderr:old 7", "stdout:line 0000",
                               "stdout:line 0001", "stdout:line 0002"));
}

TEST_F(LogReaderTest, FollowWaitsForTheEndOfATornLine) {
  WriteRaw(log_, absl::StrCat(Ts(1), " stdout F begun "));
  Collector c;
  std::atomic<bool> alive{true};
  LogReadOptions o;
  o.follow = true;
  o.poll_interval = absl::Milliseconds(20);
  std::thread reader([&] { EXPECT_TRUE(ReadLogs(log_, o, WhileAlive(alive), c.Sink()).ok()); });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(c.size(), 0u);
  std::ofstream(log_, std::ios::app) << "and ended\n";
  EXPECT_TRUE(WaitForLines(&c, 1));
  alive = false;
  reader.join();
  EXPECT_THAT(c.Get(), ElementsAre("stdout:begun and ended"));
}

TEST_F(LogReaderTest, FileRemovedWhileFollowedIsReadToItsEnd) {
  WriteRaw(log_, absl::StrCat(Ts(1), " stdout F a\n"));
  Collector c;
  std::atomic<bool> alive{true};
  LogReadOptions o;
  o.follow = true;
  o.poll_interval = absl::Milliseconds(20);
  std::thread reader([&] { EXPECT_TRUE(ReadLogs(log_, o, WhileAlive(alive), c.Sink()).ok()); });
  EXPECT_TRUE(WaitForLines(&c, 1));
  {
    // The container's last words and its deletion, before the reader looks.
    std::ofstream(log_, std::ios::app) << Ts(2) << " stdout F b\n" << Ts(3) << " stdout P c";
  }
  ASSERT_EQ(unlink(log_.c_str()), 0);
  alive = false;
  reader.join();
  EXPECT_THAT(c.Get(), ElementsAre("stdout:a", "stdout:b", "stdout:c~"));
}

TEST_F(LogReaderTest, CancelEndsAFollowQuicklyAndWaitingCostsNoCpu) {
  WriteRaw(log_, absl::StrCat(Ts(1), " stdout F a\n"));
  std::atomic<bool> cancelled{false};
  LogReadOptions o;
  o.follow = true;
  o.poll_interval = absl::Milliseconds(50);
  Collector c;
  struct rusage before, after;
  absl::Time ended;
  std::thread reader([&] {
    getrusage(RUSAGE_THREAD, &before);
    FollowControl control;
    control.cancelled = [&] { return cancelled.load(); };
    EXPECT_TRUE(ReadLogs(log_, o, control, c.Sink()).ok());
    getrusage(RUSAGE_THREAD, &after);
    ended = absl::Now();
  });
  absl::SleepFor(absl::Seconds(1));
  const absl::Time cancel_time = absl::Now();
  cancelled = true;
  reader.join();
  EXPECT_LT(ended - cancel_time, absl::Milliseconds(500));
  const auto cpu = [](const struct rusage& r) {
    return absl::DurationFromTimeval(r.ru_utime) + absl::DurationFromTimeval(r.ru_stime);
  };
  EXPECT_LT(cpu(after) - cpu(before), absl::Milliseconds(100));
  EXPECT_THAT(c.Get(), ElementsAre("stdout:a"));
}

}  // namespace
}  // namespace berth::runtime::logs
