#include "runtime/state_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::runtime {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<StateStore>(dir_.path() + "/containers");
    ASSERT_TRUE(store_->Init().ok());
  }

  // A record of `id` with what every record needs.
  static ContainerRecord Record(const std::string& id, RecordPhase phase) {
    ContainerRecord r;
    r.spec.id = id;
    r.spec.rootfs_layers = {"/r"};
    r.spec.args = {"/bin/sh"};
    r.phase = phase;
    return r;
  }

  testing::TempDir dir_{"berth-store"};
  std::unique_ptr<StateStore> store_;
};

TEST_F(StateStoreTest, RecordRoundTrip) {
  ContainerRecord r = Record("web", RecordPhase::kStarted);
  r.cgroups_path = "/berth/web";
  r.monitor_pid = 12;
  r.monitor_start_time = 34;
  r.pid = 56;
  r.pid_start_time = 78;
  r.created_at = absl::FromUnixSeconds(1000);
  r.started_at = absl::FromUnixSeconds(1001);
  ASSERT_TRUE(store_->CreateDir("web").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->CreateDir("web")));
  ASSERT_TRUE(store_->Write(r).ok());
  auto back = store_->Read("web");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->phase, RecordPhase::kStarted);
  EXPECT_EQ(back->pid, 56);
  EXPECT_EQ(back->pid_start_time, 78u);
  EXPECT_EQ(back->monitor_pid, 12);
  EXPECT_EQ(back->started_at, absl::FromUnixSeconds(1001));
  EXPECT_EQ(back->spec.args, r.spec.args);
  EXPECT_THAT(store_->ListEntries(), ::testing::ElementsAre("web"));
}

TEST_F(StateStoreTest, MissingCorruptAndForeignVersionRecordsAreDistinguished) {
  EXPECT_TRUE(absl::IsNotFound(store_->Read("nothing").status()));
  ASSERT_TRUE(store_->CreateDir("bad").ok());
  ASSERT_TRUE(WriteFileAtomic(store_->ContainerDir("bad") + "/state.json", "{not json").ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read("bad").status()));
  ASSERT_TRUE(store_->CreateDir("newer").ok());
  ASSERT_TRUE(WriteFileAtomic(store_->ContainerDir("newer") + "/state.json", R"({"version":2})").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->Read("newer").status()));
  ASSERT_TRUE(store_->CreateDir("partial").ok());
  ASSERT_TRUE(WriteFileAtomic(store_->ContainerDir("partial") + "/state.json", R"({"version":1})").ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read("partial").status()));
}

TEST_F(StateStoreTest, ExitRecord) {
  ASSERT_TRUE(store_->CreateDir("x").ok());
  EXPECT_FALSE(store_->ReadExit("x").has_value());
  ASSERT_TRUE(WriteFileAtomic(store_->ExitFile("x"),
                              R"({"exit_code":137,"signal":9,"oom_killed":true,"finished_at_unix_nano":5000000000})")
                  .ok());
  auto e = store_->ReadExit("x");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->exit_code, 137);
  EXPECT_EQ(e->signal, 9);
  EXPECT_TRUE(e->oom_killed);
  EXPECT_EQ(e->finished_at, absl::FromUnixSeconds(5));
}

TEST_F(StateStoreTest, EveryNewVersionOfARecordIsReadAndAGoneOneIsNotFound) {
  // Reads are served from what was parsed while the file is the same one.
  ContainerRecord r = Record("web", RecordPhase::kCreated);
  ASSERT_TRUE(store_->CreateDir("web").ok());
  ASSERT_TRUE(store_->Write(r).ok());
  for (int pid = 1; pid <= 20; ++pid) {
    r.pid = pid;
    r.phase = pid % 2 == 0 ? RecordPhase::kStarted : RecordPhase::kCreated;
    ASSERT_TRUE(store_->Write(r).ok());
    auto back = store_->Read("web");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->pid, pid);
    EXPECT_EQ(back->phase, r.phase);
    EXPECT_EQ(store_->Read("web")->pid, pid) << "read again";
  }
  // Replaced by something unreadable: not the last good record.
  ASSERT_TRUE(WriteFileAtomic(store_->ContainerDir("web") + "/state.json", "{not json").ok());
  EXPECT_TRUE(absl::IsDataLoss(store_->Read("web").status()));
  ASSERT_TRUE(store_->Write(r).ok());
  EXPECT_TRUE(store_->Read("web").ok());
  // Removed: not found, also after a listing.
  ASSERT_TRUE(RemoveTree(store_->ContainerDir("web")).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->Read("web").status()));
  EXPECT_THAT(store_->ListEntries(), ::testing::IsEmpty());
  EXPECT_TRUE(absl::IsNotFound(store_->Read("web").status()));
}

}  // namespace
}  // namespace berth::runtime
