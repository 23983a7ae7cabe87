#include "controller/status.h"

#include <sys/stat.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::controller {
namespace {

ContainerReport Report(const std::string& phase) {
  ContainerReport r;
  r.id = "default.web";
  r.namespace_ = "default";
  r.name = "web";
  r.phase = phase;
  return r;
}

// The inode of the file: each write renames a new one into place.
ino_t InodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// A file is written when its content changes and only then: the same
// report again writes nothing.
TEST(FileStatusSinkTest, WritesAReportOnlyWhenItChanged) {
  berth::testing::TempDir dir;
  FileStatusSink sink(dir.path());
  const std::string path = dir.path() + "/default.web.json";
  sink.Report(Report("Pending"));
  const ino_t first = InodeOf(path);
  sink.Report(Report("Pending"));
  EXPECT_EQ(InodeOf(path), first) << "the same report: not written again";

  sink.Report(Report("Running"));
  const ino_t second = InodeOf(path);
  EXPECT_NE(second, first);
  absl::StatusOr<std::string> content = runtime::ReadFile(path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, ReportToJson(Report("Running")).dump(2) + "\n");
  sink.Report(Report("Running"));
  EXPECT_EQ(InodeOf(path), second);

  // Removed: the next report writes it again, even if the same.
  sink.Remove("default.web");
  EXPECT_THAT(sink.Ids(), ::testing::IsEmpty());
  sink.Report(Report("Running"));
  EXPECT_THAT(sink.Ids(), ::testing::ElementsAre("default.web"));
}

}  // namespace
}  // namespace berth::controller
