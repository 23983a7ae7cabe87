#include "runtime/network/netns.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::runtime::network {
namespace {

TEST(NetnsTest, CreateJoinRemove) {
  testing::TempDir dir{"berth-netns"};
  const std::string netns_dir = dir.path() + "/netns";
  absl::StatusOr<std::string> path = CreateNetns(netns_dir, "web");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, netns_dir + "/web");
  EXPECT_TRUE(IsNetns(*path));
  EXPECT_TRUE(absl::IsAlreadyExists(CreateNetns(netns_dir, "web").status()));
  EXPECT_THAT(ListNetns(netns_dir), ::testing::ElementsAre("web"));

  // A namespace of its own (not this process's), its loopback up.
  struct stat ours, theirs;
  ASSERT_EQ(stat("/proc/self/ns/net", &ours), 0);
  ASSERT_EQ(stat(path->c_str(), &theirs), 0);
  EXPECT_NE(ours.st_ino, theirs.st_ino);
  auto lo =
      RunCommand({"/usr/bin/nsenter", "--net=" + *path, "/usr/sbin/ip", "-o", "link", "show", "lo"},
                 absl::Seconds(10));
  ASSERT_TRUE(lo.ok()) << lo.status();
  EXPECT_THAT(lo->output, ::testing::HasSubstr(",UP"));

  ASSERT_TRUE(RemoveNetns(*path).ok());
  EXPECT_FALSE(IsNetns(*path));
  EXPECT_THAT(ListNetns(netns_dir), ::testing::IsEmpty());
  EXPECT_TRUE(RemoveNetns(*path).ok()) << "removing twice is fine";
  EXPECT_THAT(MountsUnder(dir.path()), ::testing::IsEmpty());

  // A file left unmounted (a crash between creating and mounting) goes too.
  ASSERT_TRUE(WriteFileAtomic(netns_dir + "/stale", "").ok());
  EXPECT_FALSE(IsNetns(netns_dir + "/stale"));
  ASSERT_TRUE(RemoveNetns(netns_dir + "/stale").ok());
  EXPECT_THAT(ListNetns(netns_dir), ::testing::IsEmpty());
}

}  // namespace
}  // namespace berth::runtime::network
