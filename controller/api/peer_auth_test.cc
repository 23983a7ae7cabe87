#include "controller/api/peer_auth.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

using ::testing::UnorderedElementsAreArray;

Caller User(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  Caller c;
  c.uid = uid;
  c.gid = gid;
  c.groups = std::move(groups);
  return c;
}

TEST(AccessOfTest, RootIsAdminWhateverTheGroups) {
  EXPECT_EQ(AccessOf(User(0, 0), kNoGroup, kNoGroup), Access::kAdmin);
}

TEST(AccessOfTest, TheSocketsGroupReads) {
  EXPECT_EQ(AccessOf(User(1000, 1000, {27, 500}), 500, kNoGroup), Access::kRead);
  EXPECT_EQ(AccessOf(User(1000, 500), 500, kNoGroup), Access::kRead);  // primary group
}

TEST(AccessOfTest, TheAdminGroupDoesEverything) {
  EXPECT_EQ(AccessOf(User(1000, 1000, {600}), 500, 600), Access::kAdmin);
}

TEST(AccessOfTest, EveryoneElseNothing) {
  EXPECT_EQ(AccessOf(User(1000, 1000, {27}), 500, 600), Access::kNone);
  // No group configured: a caller whose gid is -1 is still in no group.
  EXPECT_EQ(AccessOf(User(1000, kNoGroup), kNoGroup, kNoGroup), Access::kNone);
}

TEST(PeerOfTest, KnowsTheOtherEndOfASocket) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  absl::StatusOr<Caller> caller = PeerOf(fds[0]);
  close(fds[0]);
  close(fds[1]);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->pid, getpid());
  EXPECT_EQ(caller->uid, getuid());
  EXPECT_EQ(caller->gid, getgid());
  std::vector<gid_t> mine(getgroups(0, nullptr));
  ASSERT_EQ(getgroups(mine.size(), mine.data()), static_cast<int>(mine.size()));
  EXPECT_THAT(caller->groups, UnorderedElementsAreArray(mine));
}

TEST(PeerOfTest, FailsOnWhatIsNoSocket) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_FALSE(PeerOf(fds[0]).ok());
  close(fds[0]);
  close(fds[1]);
}

TEST(SupplementaryGroupsOfTest, EmptyForAProcessThatIsGone) {
  EXPECT_TRUE(SupplementaryGroupsOf(-5).empty());
}

TEST(ResolveGroupTest, NamesNumbersAndNone) {
  EXPECT_EQ(*ResolveGroup("root"), 0u);
  EXPECT_EQ(*ResolveGroup("4242"), 4242u);
  EXPECT_EQ(*ResolveGroup(""), kNoGroup);
  absl::StatusOr<gid_t> missing = ResolveGroup("no-such-group-here");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), ::testing::HasSubstr("no-such-group-here"));
}

}  // namespace
}  // namespace berth::api
