// Networked containers and failures: a failure at every create step, and
// kill -9 during create or delete, leave no namespace, address, iptables
// rule or veth. See tests/network_fixture.h.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/network_fixture.h"

namespace berth::runtime {
namespace {

TEST_F(NetworkE2eTest, FailureAtEveryCreateStepLeavesNoNetworkBehind) {
  for (const char* step : kCreateSteps) {
    SCOPED_TRACE(step);
    FailAt faults(step);
    RuncRuntimeOptions options = world_.RuntimeOptions();
    options.faults = &faults;
    auto faulty = OpenRuntime(options);
    ASSERT_NE(faulty, nullptr);
    ContainerSpec spec = WebSpec("victim");
    spec.ports = {{8081, 80, "tcp", ""}};
    absl::Status s = faulty->Create(spec);
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(step));
    ExpectNetworkClean();
    // A retry starts clean.
    ASSERT_TRUE(runtime_->Create(spec).ok());
    EXPECT_FALSE(MustState("victim").ip.empty());
    ASSERT_TRUE(runtime_->Delete("victim").ok());
    ExpectNetworkClean();
  }
}

TEST_F(NetworkE2eTest, Kill9DuringCreateOrDeleteLeavesNothingAfterOpen) {
  runtime_.reset();
  const RuncRuntimeOptions options = world_.RuntimeOptions();
  // Crashes at the network steps and after them; the last case also loses
  // the record, leaving only the directory's network cache.
  const std::pair<const char*, bool> cases[] = {
      {"netns", false},       {"cni_add", false}, {"etc_files", false},
      {"runc_create", false}, {"cni_add", true},
  };
  for (const auto& [step, lose_record] : cases) {
    SCOPED_TRACE(absl::StrCat(step, lose_record ? " without record" : ""));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t holder = fork();
    if (holder == 0) {
      close(fds[0]);
      BlockAt faults(step, fds[1]);
      RuncRuntimeOptions o = options;
      o.faults = &faults;
      auto rt = RuncRuntime::Open(o);
      if (!rt.ok()) _exit(1);
      ContainerSpec spec = WebSpec("half");
      spec.ports = {{8082, 80, "tcp", ""}};
      (void)(*rt)->Create(spec);
      _exit(3);
    }
    close(fds[1]);
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1) << "the child never reached " << step;
    close(fds[0]);
    kill(holder, SIGKILL);
    int status;
    waitpid(holder, &status, 0);
    if (lose_record) {
      ASSERT_EQ(unlink((options.state_dir + "/half/state.json").c_str()), 0);
    }
    auto rt = OpenRuntime(options);
    ASSERT_NE(rt, nullptr);
    EXPECT_THAT(lose_record ? rt->recovery().orphans_removed : rt->recovery().rolled_back,
                ::testing::ElementsAre("half"));
    EXPECT_THAT(rt->recovery().errors, IsEmpty());
    ExpectNetworkClean();
  }

  // A delete caught before it released anything.
  {
    auto rt = OpenRuntime(options);
    ContainerSpec spec = WebSpec("going");
    spec.ports = {{8083, 80, "tcp", ""}};
    ASSERT_TRUE(rt->Create(spec).ok());
    ASSERT_TRUE(rt->Start("going").ok());
  }
  StateStore store(options.state_dir);
  absl::StatusOr<ContainerRecord> record = store.Read("going");
  ASSERT_TRUE(record.ok());
  record->phase = RecordPhase::kDeleting;
  ASSERT_TRUE(store.Write(*record).ok());
  // And a namespace file no container has.
  ASSERT_TRUE(MakeDirs(options.netns_dir).ok());
  ASSERT_TRUE(WriteFileAtomic(options.netns_dir + "/stray", "").ok());
  runtime_ = OpenRuntime(options);
  ASSERT_NE(runtime_, nullptr);
  EXPECT_THAT(runtime_->recovery().rolled_back, ::testing::ElementsAre("going"));
  EXPECT_THAT(runtime_->recovery().orphans_removed, ::testing::ElementsAre("stray"));
  EXPECT_THAT(runtime_->recovery().errors, IsEmpty());
  ExpectNetworkClean();
}

}  // namespace
}  // namespace berth::runtime
