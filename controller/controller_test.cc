#include "controller/controller.h"

#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;

ContainerStatus Exited(absl::Time created_at, int code) {
  ContainerStatus c;
  c.id = "default.crash";
  c.state = ContainerState::kStopped;
  c.created_at = created_at;
  c.exit_code = code;
  c.reason = "Error";
  return c;
}

TEST(RelistSignatureTest, TwoInstancesThatExitedAlikeDiffer) {
  // A container that crashes at once, restarted: both instances read as
  // stopped, pid 0, exit code 3; only the instance tells them apart.
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_NE(RelistSignature(Exited(t, 3)), RelistSignature(Exited(t + absl::Milliseconds(1), 3)));
  EXPECT_EQ(RelistSignature(Exited(t, 3)), RelistSignature(Exited(t, 3)));
}

TEST(RelistSignatureTest, StateExitCodeAndReasonCount) {
  const absl::Time t = absl::FromUnixSeconds(1000);
  ContainerStatus running = Exited(t, 0);
  running.state = ContainerState::kRunning;
  running.exit_code.reset();
  running.pid = 42;
  running.reason.clear();
  EXPECT_NE(RelistSignature(running), RelistSignature(Exited(t, 0)));
  EXPECT_NE(RelistSignature(Exited(t, 1)), RelistSignature(Exited(t, 2)));
  ContainerStatus lost = Exited(t, 0);
  lost.exit_code.reset();
  lost.reason = "ExitCodeLost";
  ContainerStatus exiting = lost;
  exiting.state = ContainerState::kUnknown;
  exiting.reason = "Exiting";
  EXPECT_NE(RelistSignature(lost), RelistSignature(exiting));
}

}  // namespace
}  // namespace berth::controller
