#include "runtime/exit_watcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/temp_dir.h"

namespace berth::runtime {
namespace {

// Collects the ids reported, and waits (bounded) for one.
class Reports {
 public:
  ExitWatcher::Callback callback() {
    return [this](const std::string& id) {
      absl::MutexLock l(&mu_);
      ++counts_[id];
    };
  }
  bool WaitFor(const std::string& id, absl::Duration timeout = absl::Seconds(5)) {
    absl::MutexLock l(&mu_);
    auto seen = [&] { return counts_.count(id) > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  int Count(const std::string& id) {
    absl::MutexLock l(&mu_);
    auto it = counts_.find(id);
    return it == counts_.end() ? 0 : it->second;
  }
  void Clear() {
    absl::MutexLock l(&mu_);
    counts_.clear();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> counts_;
};

// What the monitor does: write a temporary file, rename it into place.
void WriteAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << tmp;
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0) << path;
}

class ExitWatcherTest : public ::testing::Test {
 protected:
  std::string Dir(const std::string& id) { return dir_.path() + "/" + id; }
  void MakeDir(const std::string& id) { ASSERT_EQ(mkdir(Dir(id).c_str(), 0700), 0); }

  testing::TempDir dir_{"berth-exits"};
  Reports reports_;
};

TEST_F(ExitWatcherTest, ReportsAnExitInADirectoryThatWasThereAtStart) {
  MakeDir("default.a");
  auto w = ExitWatcher::Start(dir_.path(), reports_.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  WriteAtomically(Dir("default.a") + "/exit.json", "{}");
  EXPECT_TRUE(reports_.WaitFor("default.a"));
}

TEST_F(ExitWatcherTest, ReportsAnExitInADirectoryMadeAfterStart) {
  auto w = ExitWatcher::Start(dir_.path(), reports_.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  MakeDir("default.b");
  // Either the watch is there before the rename, or it is added after and
  // finds the file: both are reported.
  WriteAtomically(Dir("default.b") + "/exit.json", "{}");
  EXPECT_TRUE(reports_.WaitFor("default.b"));
}

TEST_F(ExitWatcherTest, OtherFilesAreNotExits) {
  MakeDir("default.c");
  auto w = ExitWatcher::Start(dir_.path(), reports_.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  WriteAtomically(Dir("default.c") + "/state.json", "{}");
  WriteAtomically(Dir("default.c") + "/monitor.pid", "1");
  // A marker written after them: once it is reported, the others were read.
  MakeDir("marker");
  WriteAtomically(Dir("marker") + "/exit.json", "{}");
  ASSERT_TRUE(reports_.WaitFor("marker"));
  EXPECT_EQ(reports_.Count("default.c"), 0);
}

TEST_F(ExitWatcherTest, ADirectoryRemovedAndMadeAgainIsWatchedAgain) {
  // A restart: the runtime deletes the container's directory and creates it
  // anew under the same id; each instance's exit is reported.
  MakeDir("default.d");
  auto w = ExitWatcher::Start(dir_.path(), reports_.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  for (int instance = 0; instance < 5; ++instance) {
    WriteAtomically(Dir("default.d") + "/exit.json", "{}");
    ASSERT_TRUE(reports_.WaitFor("default.d")) << "instance " << instance;
    reports_.Clear();
    ASSERT_TRUE(RemoveTree(Dir("default.d")).ok());
    MakeDir("default.d");
  }
}

TEST_F(ExitWatcherTest, ManyContainersEachReported) {
  auto w = ExitWatcher::Start(dir_.path(), reports_.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  for (int i = 0; i < 50; ++i) MakeDir("default.n" + std::to_string(i));
  for (int i = 0; i < 50; ++i) {
    WriteAtomically(Dir("default.n" + std::to_string(i)) + "/exit.json", "{}");
  }
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(reports_.WaitFor("default.n" + std::to_string(i))) << i;
}

TEST_F(ExitWatcherTest, StopsPromptlyAndReportsNothingAfter) {
  MakeDir("default.e");
  auto w = ExitWatcher::Start(dir_.path(), reports_.callback());
  ASSERT_TRUE(w.ok()) << w.status();
  const absl::Time began = absl::Now();
  w->reset();
  EXPECT_LT(absl::Now() - began, absl::Seconds(1));
  WriteAtomically(Dir("default.e") + "/exit.json", "{}");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(reports_.Count("default.e"), 0);
}

TEST_F(ExitWatcherTest, AMissingDirectoryIsAnError) {
  auto w = ExitWatcher::Start(dir_.path() + "/absent", reports_.callback());
  EXPECT_FALSE(w.ok());
}

}  // namespace
}  // namespace berth::runtime
