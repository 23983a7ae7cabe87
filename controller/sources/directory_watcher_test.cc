#include "controller/sources/directory_watcher.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/sources/manifest_source.h"
#include "controller/sources/testing/manifest_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::berth::controller::test_util::ImageOf;
using ::berth::controller::test_util::Manifest;
using ::berth::controller::test_util::TempDir;
using ::berth::controller::test_util::WriteFile;

constexpr absl::Duration kWait = absl::Seconds(5);

class CallCounter {
 public:
  void Inc() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  int count() const {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  // Waits until the count exceeds `than`; false on timeout.
  bool WaitAbove(int than, absl::Duration timeout = kWait) const {
    absl::MutexLock lock(&mu_);
    auto above = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ > than; };
    return mu_.AwaitWithTimeout(absl::Condition(&above), timeout);
  }
  std::function<void()> Callback() {
    return [this] { Inc(); };
  }

 private:
  mutable absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

// Waits until `counter` stays unchanged for `quiet`, returns the count.
int Settle(const CallCounter& counter, absl::Duration quiet) {
  int last = counter.count();
  while (true) {
    absl::SleepFor(quiet);
    int now = counter.count();
    if (now == last) return now;
    last = now;
  }
}

TEST(DirectoryWatcherTest, CreateWriteRenameOverAndDeleteEachCall) {
  TempDir dir;
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Milliseconds(50), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  int n = calls.count();
  EXPECT_EQ(n, 0);
  WriteFile(dir / "a.yaml", Manifest("web"));  // create + write
  ASSERT_TRUE(calls.WaitAbove(n)) << "create";
  n = Settle(calls, absl::Milliseconds(150));

  {  // in-place write of an existing file
    std::ofstream out(dir / "a.yaml", std::ios::app);
    out << "# more\n";
  }
  ASSERT_TRUE(calls.WaitAbove(n)) << "write";
  n = Settle(calls, absl::Milliseconds(150));

  WriteFile(dir / ".a.yaml.swp", Manifest("web", "nginx"));
  fs::rename(dir / ".a.yaml.swp", dir / "a.yaml");
  ASSERT_TRUE(calls.WaitAbove(n)) << "rename over";
  n = Settle(calls, absl::Milliseconds(150));

  ASSERT_EQ(chmod((dir / "a.yaml").c_str(), 0600), 0);
  ASSERT_TRUE(calls.WaitAbove(n)) << "chmod";
  n = Settle(calls, absl::Milliseconds(150));

  fs::remove(dir / "a.yaml");
  ASSERT_TRUE(calls.WaitAbove(n)) << "delete";
}

TEST(DirectoryWatcherTest, BurstOfWritesGivesFewCalls) {
  TempDir dir;
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Milliseconds(200), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  for (int i = 0; i < 20; ++i) {
    WriteFile(dir / absl::StrCat("f", i % 3, ".yaml"), Manifest("web", absl::StrCat("i", i)));
  }
  ASSERT_TRUE(calls.WaitAbove(0));
  int n = Settle(calls, absl::Milliseconds(300));
  EXPECT_GE(n, 1);
  EXPECT_LT(n, 5);
}

TEST(DirectoryWatcherTest, EditorStyleSaveIsOneCall) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Milliseconds(200), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  // vim: probe file 4913, backup a.yaml~, write new, remove backup.
  WriteFile(dir / "4913", "");
  fs::remove(dir / "4913");
  fs::rename(dir / "a.yaml", dir / "a.yaml~");
  WriteFile(dir / "a.yaml", Manifest("web", "nginx"));
  fs::remove(dir / "a.yaml~");
  ASSERT_TRUE(calls.WaitAbove(0));
  EXPECT_EQ(Settle(calls, absl::Milliseconds(300)), 1);
}

// A completed change settles after a few quiet ms, not at the debounce.
TEST(DirectoryWatcherTest, RenameIntoPlaceAndRemovalSettleLongBeforeTheDebounce) {
  TempDir dir;
  WriteFile(dir / ".a.yaml.tmp", Manifest("web"));
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Seconds(5), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  absl::Time begin = absl::Now();
  fs::rename(dir / ".a.yaml.tmp", dir / "a.yaml");
  ASSERT_TRUE(calls.WaitAbove(0, absl::Seconds(2))) << "waited for the 5 s debounce";
  EXPECT_LT(absl::Now() - begin, absl::Seconds(1));
  int n = Settle(calls, absl::Milliseconds(100));
  begin = absl::Now();
  fs::remove(dir / "a.yaml");
  ASSERT_TRUE(calls.WaitAbove(n, absl::Seconds(2))) << "waited for the 5 s debounce";
  EXPECT_LT(absl::Now() - begin, absl::Seconds(1));
}

// A file still being written waits for its close (up to the debounce).
TEST(DirectoryWatcherTest, AFileBeingWrittenWaitsForItsClose) {
  TempDir dir;
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Seconds(5), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  {
    std::ofstream out(dir / "a.yaml");
    out << Manifest("web");
    out.flush();
    EXPECT_FALSE(calls.WaitAbove(0, absl::Milliseconds(200))) << "read half-written";
  }
  const absl::Time closed = absl::Now();
  ASSERT_TRUE(calls.WaitAbove(0, absl::Seconds(3))) << "the close was not noticed";
  EXPECT_LT(absl::Now() - closed, absl::Seconds(1));
}

// A writer that keeps the file open delays the call by the debounce, no more.
TEST(DirectoryWatcherTest, AWriterThatNeverClosesWaitsTheDebounce) {
  TempDir dir;
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Milliseconds(300), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::ofstream out(dir / "a.yaml");
  const absl::Time begin = absl::Now();
  out << Manifest("web");
  out.flush();
  ASSERT_TRUE(calls.WaitAbove(0));
  EXPECT_GE(absl::Now() - begin, absl::Milliseconds(250));
}

TEST(DirectoryWatcherTest, ConfigMapSwapCallsAndSourceSeesIt) {
  TempDir dir;
  fs::create_directory(dir / "..2026_01_01");
  WriteFile(dir / "..2026_01_01/x.yaml", Manifest("web"));
  fs::create_directory_symlink("..2026_01_01", dir / "..data");
  fs::create_symlink("..data/x.yaml", dir / "x.yaml");

  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), ElementsAre("default.web"));
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Milliseconds(50), [&] {
    source.Scan();  // reads files: must not cause further events
    calls.Inc();
  });
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  fs::create_directory(dir / "..2026_01_02");
  WriteFile(dir / "..2026_01_02/x.yaml", Manifest("web", "nginx"));
  fs::create_directory_symlink("..2026_01_02", dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  ASSERT_TRUE(calls.WaitAbove(0));
  int n = Settle(calls, absl::Milliseconds(200));
  EXPECT_LT(n, 3) << "scanning must not feed back into events";
  EXPECT_EQ(ImageOf(source, "default.web"), "nginx");
}

// What the calls reported, merged.
class Reports {
 public:
  std::function<void(const DirectoryChange&)> Callback() {
    return [this](const DirectoryChange& c) {
      absl::MutexLock lock(&mu_);
      all_ = all_ || c.all;
      names_.insert(c.names.begin(), c.names.end());
      ++calls_;
    };
  }
  // Waits until `name` was reported (or all); false on timeout.
  bool WaitFor(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return all_ || names_.count(name); };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), kWait);
  }
  bool WaitAll() {
    absl::MutexLock lock(&mu_);
    auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return all_; };
    return mu_.AwaitWithTimeout(absl::Condition(&all), kWait);
  }
  // What was reported since the last Take.
  std::pair<bool, std::set<std::string>> Take() {
    absl::MutexLock lock(&mu_);
    std::pair<bool, std::set<std::string>> r{all_, names_};
    all_ = false;
    names_.clear();
    return r;
  }

 private:
  absl::Mutex mu_;
  bool all_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> names_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(DirectoryWatcherTest, ReportsTheNamesThatChanged) {
  TempDir root;
  const std::string dir = root / "manifests";
  fs::create_directory(dir);
  WriteFile(dir + "/keep.yaml", Manifest("keep"));
  Reports reports;
  auto watcher = DirectoryWatcher::Start(dir, absl::Milliseconds(50), reports.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  WriteFile(dir + "/a.yaml", Manifest("web"));
  ASSERT_TRUE(reports.WaitFor("a.yaml"));
  WriteFile(root / "b.tmp", Manifest("db"));
  fs::rename(root / "b.tmp", dir + "/b.yaml");  // moved in
  ASSERT_TRUE(reports.WaitFor("b.yaml"));
  fs::remove(dir + "/a.yaml");
  absl::SleepFor(absl::Milliseconds(200));
  auto [all, names] = reports.Take();
  EXPECT_FALSE(all);
  EXPECT_EQ(names, (std::set<std::string>{"a.yaml", "b.yaml"}))
      << "keep.yaml was not touched; a.yaml created and removed, b.yaml moved in";

  // The directory replaced: every name may have changed.
  fs::rename(dir, root / "old");
  fs::create_directory(dir);
  EXPECT_TRUE(reports.WaitAll());
}

TEST(DirectoryWatcherTest, NoCallWithoutChanges) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Milliseconds(20), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ManifestSource source(dir.path());
  source.Scan();  // reading is not a change
  EXPECT_FALSE(calls.WaitAbove(0, absl::Milliseconds(200)));
}

TEST(DirectoryWatcherTest, DirectoryDeletedAndRecreated) {
  TempDir root;
  std::string dir = root / "manifests";
  fs::create_directory(dir);
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir, absl::Milliseconds(50), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  fs::remove_all(dir);
  ASSERT_TRUE(calls.WaitAbove(0)) << "delete";
  int n = Settle(calls, absl::Milliseconds(150));

  fs::create_directory(dir);
  ASSERT_TRUE(calls.WaitAbove(n)) << "recreate";
  n = Settle(calls, absl::Milliseconds(150));

  WriteFile(dir + "/a.yaml", Manifest("web"));
  ASSERT_TRUE(calls.WaitAbove(n)) << "write in the recreated directory";
  n = Settle(calls, absl::Milliseconds(150));

  // Moved away and replaced by another directory.
  fs::rename(dir, root / "old");
  fs::create_directory(dir);
  ASSERT_TRUE(calls.WaitAbove(n)) << "move away";
  n = Settle(calls, absl::Milliseconds(150));
  WriteFile(root / "old/b.yaml", Manifest("db"));  // old one: not watched
  WriteFile(dir + "/c.yaml", Manifest("db"));
  ASSERT_TRUE(calls.WaitAbove(n)) << "write in the replacement";
}

TEST(DirectoryWatcherTest, StartsOnMissingDirectoryAndCallsWhenCreated) {
  TempDir root;
  std::string dir = root / "manifests";
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir, absl::Milliseconds(50), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  fs::create_directory(dir);
  ASSERT_TRUE(calls.WaitAbove(0));
  int n = Settle(calls, absl::Milliseconds(150));
  WriteFile(dir + "/a.yaml", Manifest("web"));
  ASSERT_TRUE(calls.WaitAbove(n));
}

TEST(DirectoryWatcherTest, RepointedSymlinkPathIsNoticed) {
  TempDir root;
  fs::create_directory(root / "v1");
  fs::create_directory(root / "v2");
  std::string dir = root / "manifests";
  fs::create_directory_symlink("v1", dir);
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir, absl::Milliseconds(50), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  fs::create_directory_symlink("v2", root / "tmp");
  fs::rename(root / "tmp", dir);  // no event on the watched v1
  ASSERT_TRUE(calls.WaitAbove(0));
  int n = Settle(calls, absl::Milliseconds(150));
  WriteFile(root / "v2/a.yaml", Manifest("web"));
  ASSERT_TRUE(calls.WaitAbove(n));
}

TEST(DirectoryWatcherTest, DestructionIsPrompt) {
  TempDir dir;
  CallCounter calls;
  auto watcher = DirectoryWatcher::Start(dir.path(), absl::Seconds(30), calls.Callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  WriteFile(dir / "a.yaml", Manifest("web"));  // pending, long debounce
  absl::SleepFor(absl::Milliseconds(20));
  absl::Time start = absl::Now();
  watcher->reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_EQ(calls.count(), 0);

  // Also while polling for a missing directory.
  auto missing = DirectoryWatcher::Start(dir / "nope", absl::Milliseconds(10), calls.Callback());
  ASSERT_TRUE(missing.ok()) << missing.status();
  start = absl::Now();
  missing->reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
}

TEST(DirectoryWatcherTest, StartFailsOnUnwatchablePath) {
  TempDir dir;
  // A path component that is a file: ENOTDIR, i.e. "not a directory yet",
  // is tolerated; but an over-long path is an error.
  std::string too_long = dir.path() + "/" + std::string(5000, 'x');
  auto watcher = DirectoryWatcher::Start(too_long, absl::Milliseconds(10), [] {});
  ASSERT_FALSE(watcher.ok());
  EXPECT_THAT(std::string(watcher.status().message()), HasSubstr("watch directory " + too_long));
}

}  // namespace
}  // namespace berth::controller
