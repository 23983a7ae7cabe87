#include "runtime/logs/log_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime::logs {
namespace {

TEST(ParseLogEntryTest, ReadsEveryField) {
  LogEntry e;
  ASSERT_TRUE(ParseLogEntry("2026-12-03T16:51:51.123456789Z stderr P a b  c", &e));
  EXPECT_EQ(e.timestamp, "2026-12-03T16:51:51.123456789Z");
  EXPECT_EQ(e.time, absl::FromUnixNanos(1796316711123456789));
  EXPECT_EQ(e.stream, LogStream::kStderr);
  EXPECT_TRUE(e.partial);
  EXPECT_EQ(e.content, "a b  c");
}

TEST(ParseLogEntryTest, EmptyContentWithOrWithoutSeparator) {
  LogEntry e;
  ASSERT_TRUE(ParseLogEntry("2026-12-03T16:51:51.000000000Z stdout F ", &e));
  EXPECT_EQ(e.content, "");
  EXPECT_FALSE(e.partial);
  ASSERT_TRUE(ParseLogEntry("2026-12-03T16:51:51.000000000Z stdout F", &e));
  EXPECT_EQ(e.content, "");
}

TEST(ParseLogEntryTest, RefusesWhatIsNotAnEntry) {
  LogEntry e;
  for (const char* bad :
       {"", "garbage", "2026-12-03T16:51:51Z stdin F x", "2026-12-03T16:51:51Z stdout X x",
        "2026-12-03T16:51:51Z stdout Fx", "yesterday stdout F x", " stdout F x"}) {
    EXPECT_FALSE(ParseLogEntry(bad, &e)) << bad;
  }
}

TEST(LineJoinerTest, JoinsEachStreamsPiecesSeparately) {
  std::vector<LogLine> lines;
  LineJoiner j([&](LogLine l) { lines.push_back(std::move(l)); });
  auto add = [&](const char* line) {
    LogEntry e;
    ASSERT_TRUE(ParseLogEntry(line, &e)) << line;
    j.Add(e);
  };
  add("2026-01-01T00:00:01Z stdout P hel");
  add("2026-01-01T00:00:02Z stderr F oops");
  add("2026-01-01T00:00:03Z stdout P lo ");
  add("2026-01-01T00:00:04Z stdout F world");
  add("2026-01-01T00:00:05Z stderr P unfinished");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].content, "oops");
  EXPECT_EQ(lines[0].stream, LogStream::kStderr);
  EXPECT_EQ(lines[1].content, "hello world");
  EXPECT_EQ(lines[1].timestamp, "2026-01-01T00:00:04Z");  // its end's
  EXPECT_FALSE(lines[1].partial);
  j.Flush();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2].content, "unfinished");
  EXPECT_TRUE(lines[2].partial);
  j.Flush();
  EXPECT_EQ(lines.size(), 3u);
}

TEST(LineJoinerTest, ResetDropsWaitingPieces) {
  std::vector<LogLine> lines;
  LineJoiner j([&](LogLine l) { lines.push_back(std::move(l)); });
  LogEntry e;
  ASSERT_TRUE(ParseLogEntry("2026-01-01T00:00:01Z stdout P old", &e));
  j.Add(e);
  j.Reset();
  ASSERT_TRUE(ParseLogEntry("2026-01-01T00:00:02Z stdout F new", &e));
  j.Add(e);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].content, "new");
}

TEST(AppendFormattedTest, TimestampsAndPartialLines) {
  LogLine l;
  l.timestamp = "2026-01-01T00:00:01.000000000Z";
  l.content = "x";
  std::string out;
  AppendFormatted(l, false, &out);
  AppendFormatted(l, true, &out);
  l.partial = true;
  AppendFormatted(l, false, &out);
  EXPECT_EQ(out, "x\n2026-01-01T00:00:01.000000000Z x\nx");
}

}  // namespace
}  // namespace berth::runtime::logs
