#include "controller/hook_records.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

class HookRecordsTest : public ::testing::Test {
 protected:
  HookRecordsTest()
      : dir_(std::filesystem::temp_directory_path() /
             absl::StrCat("hook_records_test.", getpid(), ".", ++instances_)) {}
  ~HookRecordsTest() override { std::filesystem::remove_all(dir_); }
  static inline int instances_ = 0;
  const std::string dir_;
  const absl::Time created_ = absl::FromUnixNanos(1700000000123456789);
};

TEST_F(HookRecordsTest, EachHookBeginsOncePerContainer) {
  for (const std::string& dir : {std::string(""), dir_}) {
    SCOPED_TRACE(dir);
    HookRecords records(dir);
    EXPECT_TRUE(records.Begin("default.web", created_, Hook::kPostStart));
    EXPECT_FALSE(records.Begin("default.web", created_, Hook::kPostStart));
    EXPECT_TRUE(records.Begin("default.web", created_, Hook::kPreStop));
    EXPECT_FALSE(records.Begin("default.web", created_, Hook::kPreStop));
    EXPECT_TRUE(records.Begin("default.other", created_, Hook::kPostStart)) << "per id";
    const absl::Time next = created_ + absl::Seconds(5);
    EXPECT_TRUE(records.Begin("default.web", next, Hook::kPostStart)) << "a new container";
    EXPECT_FALSE(records.Begin("default.web", next, Hook::kPostStart));
    records.Forget("default.web");
    EXPECT_TRUE(records.Begin("default.web", next, Hook::kPostStart));
    records.Forget("default.web");
    records.Forget("default.web");  // twice: fine
  }
}

TEST_F(HookRecordsTest, RecordsOutliveTheProcessThatWroteThem) {
  EXPECT_TRUE(HookRecords(dir_).Begin("default.web", created_, Hook::kPostStart));
  std::ifstream in(dir_ + "/default.web");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"createdAt\":1700000000123456789,\"hooks\":[\"postStart\"]}\n");
  HookRecords again(dir_);
  EXPECT_FALSE(again.Begin("default.web", created_, Hook::kPostStart));
  EXPECT_TRUE(again.Begin("default.web", created_, Hook::kPreStop));
  again.Forget("default.web");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/default.web"));
}

TEST_F(HookRecordsTest, AMalformedRecordIsNone) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ + "/default.web") << "{not json";
  EXPECT_TRUE(HookRecords(dir_).Begin("default.web", created_, Hook::kPostStart));
}

TEST_F(HookRecordsTest, AnUnwritableDirectoryStillRunsTheHook) {
  std::ofstream(dir_) << "a file, not a directory";
  HookRecords records(dir_);
  EXPECT_TRUE(records.Begin("default.web", created_, Hook::kPostStart));
  std::filesystem::remove(dir_);
}

}  // namespace
}  // namespace berth::controller
