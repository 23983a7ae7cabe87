// A berthd on a manifests directory with its local API, and berthctl run
// against it (as root or as another user), for the berthctl and API
// end-to-end tests. Like BerthdE2eTest: real runc, a busybox image, leaks
// checked after each test.
#ifndef BERTH_TESTS_BERTHCTL_FIXTURE_H_
#define BERTH_TESTS_BERTHCTL_FIXTURE_H_

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth::testing {

class BerthctlE2eTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kWait = absl::Seconds(20);

  void SetUp() override {
    // Other users reach the socket through the test's directory.
    ASSERT_EQ(chmod(world_.dir().c_str(), 0711), 0);
    manifests_ = world_.dir() + "/manifests";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
  }

  void TearDown() override {
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    EXPECT_THAT(world_.Leaks(), ::testing::IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << berthd_.Log();
  }

  std::string socket() const { return world_.run_dir() + "/berth.sock"; }

  // berthd's flags: this test's directories, every other flag at its
  // default but the metrics port (many berthd run at once).
  std::vector<std::string> DefaultFlags() const {
    std::vector<std::string> flags = {BERTH_BERTHD_PATH, "--manifests-dir=" + manifests_,
                                      "--images-dir=" + world_.dir() + "/images"};
    for (std::string& f : berth::testing::BerthdTestFlags(world_)) flags.push_back(std::move(f));
    return flags;
  }

  // Starts berthd and waits until its socket answers.
  void StartBerthd(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = DefaultFlags();
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
    ASSERT_TRUE(WaitFor([&] { return berthd_.CountInLog("API: serving on") >= 1; }, kWait))
        << berthd_.Log();
  }

  // berthctl as root; output is stdout and stderr together.
  runtime::CommandResult Berthctl(std::vector<std::string> args, absl::string_view input = {},
                                  absl::Duration timeout = absl::Seconds(30)) {
    args.insert(args.begin(), {BERTH_BERTHCTL_PATH, "--socket=" + socket()});
    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(args, timeout, input);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : runtime::CommandResult{};
  }

  // berthctl as user `uid` with primary group `gid` and no other group
  // (setpriv from util-linux).
  runtime::CommandResult BerthctlAs(uid_t uid, gid_t gid, std::vector<std::string> args) {
    std::vector<std::string> argv = {runtime::FindExecutable("setpriv"),
                                     absl::StrCat("--reuid=", uid),
                                     absl::StrCat("--regid=", gid),
                                     "--clear-groups",
                                     BERTH_BERTHCTL_PATH,
                                     "--socket=" + socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, absl::Seconds(30));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : runtime::CommandResult{};
  }

  // berthctl as user `uid` with primary group `gid` and exactly the
  // supplementary `groups`, `input` on its stdin.
  runtime::CommandResult BerthctlAsGroups(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
                                          std::vector<std::string> args,
                                          absl::string_view input = {}) {
    std::vector<std::string> argv = {runtime::FindExecutable("setpriv"),
                                     absl::StrCat("--reuid=", uid),
                                     absl::StrCat("--regid=", gid),
                                     absl::StrCat("--groups=", absl::StrJoin(groups, ",")),
                                     BERTH_BERTHCTL_PATH,
                                     "--socket=" + socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, absl::Seconds(30), input);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : runtime::CommandResult{};
  }

  void Write(const std::string& file, const std::string& content) {
    WriteManifestFile(manifests_, file, content);
  }

  TestWorld world_;
  std::string manifests_;
  OwnedProcess berthd_;
};

}  // namespace berth::testing

#endif  // BERTH_TESTS_BERTHCTL_FIXTURE_H_
