// In-process tests of the monitor's pieces: flags, JSON, time, CRI log.
#include <time.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/monitor/cri_log_writer.h"
#include "runtime/monitor/monitor_options.h"
#include "runtime/monitor/monitor_test_util.h"
#include "runtime/monitor/sys_util.h"
#include "tests/temp_dir.h"

namespace berth::monitor {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;

TEST(MonitorOptionsTest, ParsesRequiredAndOptionalFlags) {
  const char* argv[] = {"berth-monitor",
                        "--id",
                        "c",
                        "--bundle",
                        "/b",
                        "--runc",
                        "/r",
                        "--runc-root",
                        "/root",
                        "--pid-file",
                        "/p",
                        "--exit-file",
                        "/e",
                        "--log-file",
                        "/l",
                        "--monitor-pid-file",
                        "/m",
                        "--sync-fd",
                        "5",
                        "--log-max-bytes",
                        "100",
                        "--log-max-files",
                        "1",
                        "--oom-file",
                        "/o",
                        "--kill-all"};
  MonitorOptions options;
  std::string error;
  ASSERT_TRUE(ParseMonitorOptions(sizeof(argv) / sizeof(argv[0]), argv, &options, &error)) << error;
  EXPECT_EQ(options.id, "c");
  EXPECT_EQ(options.runc_root, "/root");
  EXPECT_EQ(options.monitor_pid_file, "/m");
  EXPECT_EQ(options.sync_fd, 5);
  EXPECT_EQ(options.log_max_bytes, 100);
  EXPECT_EQ(options.log_max_files, 1);
  EXPECT_EQ(options.oom_file, "/o");
  EXPECT_TRUE(options.kill_all);
}

TEST(MonitorOptionsTest, DefaultsAndErrors) {
  std::vector<const char*> argv = {"berth-monitor",
                                   "--id",
                                   "c",
                                   "--bundle",
                                   "/b",
                                   "--runc",
                                   "/r",
                                   "--runc-root",
                                   "/x",
                                   "--pid-file",
                                   "/p",
                                   "--exit-file",
                                   "/e",
                                   "--log-file",
                                   "/l",
                                   "--monitor-pid-file",
                                   "/m",
                                   "--sync-fd",
                                   "3"};
  MonitorOptions options;
  std::string error;
  ASSERT_TRUE(ParseMonitorOptions(argv.size(), argv.data(), &options, &error));
  EXPECT_EQ(options.log_max_bytes, 10485760);
  EXPECT_EQ(options.log_max_files, 2);
  EXPECT_FALSE(options.kill_all);
  EXPECT_TRUE(options.oom_file.empty());
  EXPECT_TRUE(options.overlay_rootfs.empty());

  std::vector<const char*> bad = argv;
  bad.push_back("--log-max-files");
  bad.push_back("0");
  EXPECT_FALSE(ParseMonitorOptions(bad.size(), bad.data(), &options, &error));
  EXPECT_THAT(error, HasSubstr("--log-max-files"));
  bad = argv;
  bad.push_back("--log-max-bytes");
  EXPECT_FALSE(ParseMonitorOptions(bad.size(), bad.data(), &options, &error));
  EXPECT_THAT(error, HasSubstr("--log-max-bytes: missing value"));
  bad = argv;
  bad.insert(bad.end(), {"--overlay-rootfs", "/b/rootfs"});
  EXPECT_FALSE(ParseMonitorOptions(bad.size(), bad.data(), &options, &error));
  EXPECT_THAT(error, HasSubstr("--overlay-rootfs and --overlay-options go together"));
  bad.insert(bad.end(), {"--overlay-options", "lowerdir=/l,upperdir=/u,workdir=/w"});
  ASSERT_TRUE(ParseMonitorOptions(bad.size(), bad.data(), &options, &error)) << error;
  EXPECT_EQ(options.overlay_rootfs, "/b/rootfs");
  EXPECT_EQ(options.overlay_options, "lowerdir=/l,upperdir=/u,workdir=/w");
  bad = argv;
  bad.back() = "x3";
  EXPECT_FALSE(ParseMonitorOptions(bad.size(), bad.data(), &options, &error));
  EXPECT_THAT(error, HasSubstr("--sync-fd"));
}

TEST(MonitorJsonTest, EscapesControlCharactersAndInvalidUtf8) {
  const std::string text = "a\"b\\c\nd\te\x01 caf\xc3\xa9 bad\xff\xc3 end";
  const json parsed = json::parse("\"" + JsonEscape(text) + "\"");
  EXPECT_EQ(parsed.get<std::string>(),
            "a\"b\\c\nd\te\x01 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end");
}

TEST(MonitorTimeTest, FormatsRfc3339NanoInUtc) {
  struct timespec ts = {1795409554, 5};
  EXPECT_EQ(FormatRfc3339Nano(ts), "2026-11-23T04:52:34.000000005Z");
  EXPECT_EQ(UnixNanos(ts), 1795409554000000005LL);
}

class MonitorLogWriterTest : public ::testing::Test {
 protected:
  testing::TempDir dir_{"berth-monitor-log-test"};
};

TEST_F(MonitorLogWriterTest, SplitsEntriesLargerThanTheCap) {
  const std::string path = dir_.path() + "/log";
  const std::string ts = FormatRfc3339Nano(RealtimeNow());
  CriLogWriter writer(path, 100, 3);
  std::string error;
  ASSERT_TRUE(writer.Open(&error)) << error;
  const std::string line(150, 'x');
  writer.AddEntry(ts, LogStream::kStdout, false, line.data(), line.size());
  writer.Flush();
  std::vector<CriEntry> entries;
  for (const std::string& name : {path + ".2", path + ".1", path}) {
    EXPECT_LE(std::filesystem::file_size(name), 100u) << name;
    for (const CriEntry& entry : ParseCriLog(name)) entries.push_back(entry);
  }
  ASSERT_GE(entries.size(), 2u);
  std::string joined;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].tag, i + 1 == entries.size() ? "F" : "P");
    joined += entries[i].content;
  }
  EXPECT_EQ(joined, line);
}

TEST_F(MonitorLogWriterTest, LineOfExactlyMaxBytesIsOneFullEntry) {
  const std::string path = dir_.path() + "/log";
  CriLogWriter writer(path, 1 << 20, 2);
  std::string error;
  ASSERT_TRUE(writer.Open(&error)) << error;
  CriLineSplitter splitter(LogStream::kStderr, &writer, 8);
  const std::string ts = FormatRfc3339Nano(RealtimeNow());
  splitter.Consume(ts, "12345678\n123", 12);
  splitter.Consume(ts, "456789", 6);
  splitter.Finish(ts);
  writer.Flush();
  std::vector<CriEntry> entries = ParseCriLog(path);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].tag + entries[0].content, "F12345678");
  EXPECT_EQ(entries[1].tag + entries[1].content, "P12345678");
  EXPECT_EQ(entries[2].tag + entries[2].content, "F9");
  EXPECT_EQ(entries[0].stream, "stderr");
}

}  // namespace
}  // namespace berth::monitor
