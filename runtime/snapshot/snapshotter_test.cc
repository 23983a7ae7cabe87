#include "runtime/snapshot/snapshotter.h"

#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/snapshot/test_tar.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::snapshot {
namespace {

using ::berth::testing::TempDir;
using testing::Compression;
using testing::Dir;
using ::testing::ElementsAre;
using testing::File;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  auto ls = runtime::RunCommand({"/bin/ls", "-A", dir}, absl::Seconds(5));
  if (!ls.ok()) return {"<ls failed>"};
  for (absl::string_view l : absl::StrSplit(ls->output, '\n', absl::SkipEmpty()))
    out.emplace_back(l);
  return out;
}

class SnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/root";
    blobs_ = dir_.path() + "/blobs";
    base_ = testing::WriteLayer(blobs_, {Dir("etc"), File("etc/base", "b")});
    a1_ = testing::WriteLayer(blobs_, {File("etc/a", "a")}, Compression::kZstd);
    b1_ = testing::WriteLayer(blobs_, {File("etc/b", "b")}, Compression::kNone);
  }

  std::unique_ptr<Snapshotter> MustOpen() {
    auto s = Snapshotter::Open(root_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  TempDir dir_{"berth-snapshotter-test"};
  std::string root_, blobs_;
  LayerBlob base_, a1_, b1_;
};

TEST(ChainIdsTest, FollowTheImageSpec) {
  const std::string d0 = testing::Sha256("zero"), d1 = testing::Sha256("one"),
                    d2 = testing::Sha256("two");
  std::vector<std::string> chains = ChainIds({d0, d1, d2});
  ASSERT_EQ(chains.size(), 3u);
  EXPECT_EQ(chains[0], d0);
  EXPECT_EQ(chains[1], testing::Sha256(d0 + " " + d1));
  EXPECT_EQ(chains[2], testing::Sha256(chains[1] + " " + d2));
}

TEST_F(SnapshotterTest, ReturnsLowerDirsTopMostFirst) {
  auto snap = MustOpen();
  auto dirs = snap->Prepare({base_, a1_});
  ASSERT_TRUE(dirs.ok()) << dirs.status();
  ASSERT_EQ(dirs->size(), 2u);
  EXPECT_THAT(Entries((*dirs)[0] + "/etc"), ElementsAre("a"));
  EXPECT_THAT(Entries((*dirs)[1] + "/etc"), ElementsAre("base"));
  EXPECT_LT((*dirs)[0].size(), root_.size() + 20) << "short names keep lowerdir= small";
  EXPECT_FALSE(absl::StrContains((*dirs)[0], ":"));
}

TEST_F(SnapshotterTest, ImagesWithACommonBaseShareItsSnapshot) {
  auto snap = MustOpen();
  auto a = snap->Prepare({base_, a1_});
  ASSERT_TRUE(a.ok()) << a.status();
  // Had the base been unpacked again, its missing blob would fail this.
  ASSERT_EQ(unlink(base_.path.c_str()), 0);
  auto b = snap->Prepare({base_, b1_});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)[1], (*b)[1]);
  EXPECT_NE((*a)[0], (*b)[0]);
  const std::vector<std::string> chain_a = ChainIds({base_.diff_id, a1_.diff_id});
  const std::vector<std::string> chain_b = ChainIds({base_.diff_id, b1_.diff_id});
  std::vector<std::string> listed;
  for (const SnapshotInfo& s : snap->List()) listed.push_back(s.chain_id);
  EXPECT_THAT(listed, UnorderedElementsAre(chain_a[0], chain_a[1], chain_b[1]));
  // The same diff on another base is another snapshot.
  auto c = snap->Prepare({a1_});
  ASSERT_TRUE(c.ok());
  EXPECT_NE((*c)[0], (*a)[0]);
  EXPECT_EQ(snap->List().size(), 4u);
}

TEST_F(SnapshotterTest, ConcurrentPreparesUnpackOnce) {
  auto snap = MustOpen();
  std::vector<absl::StatusOr<std::vector<std::string>>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&] { r = snap->Prepare({base_, a1_, b1_}); });
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, *results[0]);
  }
  EXPECT_EQ(snap->List().size(), 3u);
  EXPECT_THAT(Entries(root_), ElementsAre("snapshots"));
  EXPECT_EQ(Entries(root_ + "/snapshots").size(), 3u);
}

TEST_F(SnapshotterTest, FailedUnpackCommitsNothing) {
  auto snap = MustOpen();
  LayerBlob bad = a1_;
  bad.diff_id = b1_.diff_id;
  auto dirs = snap->Prepare({base_, bad});
  EXPECT_TRUE(absl::IsDataLoss(dirs.status())) << dirs.status();
  EXPECT_THAT(std::string(dirs.status().message()), ::testing::HasSubstr("2 of 2"));
  EXPECT_EQ(snap->List().size(), 1u);  // the base is committed and stays
  EXPECT_THAT(Entries(root_), ElementsAre("snapshots"));
  EXPECT_EQ(Entries(root_ + "/snapshots").size(), 1u);
}

TEST_F(SnapshotterTest, OpenRemovesCrashLeftoversAndKeepsCommittedSnapshots) {
  std::vector<std::string> before;
  {
    auto snap = MustOpen();
    auto dirs = snap->Prepare({base_, a1_});
    ASSERT_TRUE(dirs.ok());
    before = *dirs;
  }
  // An unpack cut short, a prune cut short and a snapshot dir without its
  // chain id.
  ASSERT_TRUE(runtime::MakeDirs(root_ + "/tmp-abc123/fs/etc").ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(root_ + "/tmp-abc123/fs/etc/half", "x").ok());
  ASSERT_TRUE(runtime::MakeDirs(root_ + "/tmp-prune-9/fs").ok());
  ASSERT_TRUE(runtime::MakeDirs(root_ + "/snapshots/77/fs").ok());
  auto snap = MustOpen();
  EXPECT_THAT(Entries(root_), ElementsAre("snapshots"));
  EXPECT_EQ(Entries(root_ + "/snapshots").size(), 2u);
  auto again = snap->Prepare({base_, a1_});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, before);
  // New ids do not reuse committed ones.
  auto more = snap->Prepare({base_, a1_, b1_});
  ASSERT_TRUE(more.ok());
  EXPECT_THAT(before, ::testing::Not(::testing::Contains((*more)[0])));
}

TEST_F(SnapshotterTest, PruneKeepsWhatIsAsked) {
  auto snap = MustOpen();
  auto a = snap->Prepare({base_, a1_});
  auto b = snap->Prepare({base_, b1_});
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<std::string> chain_a = ChainIds({base_.diff_id, a1_.diff_id});
  ASSERT_TRUE(snap->Prune({chain_a.begin(), chain_a.end()}).ok());
  std::vector<std::string> left;
  for (const SnapshotInfo& s : snap->List()) left.push_back(s.chain_id);
  EXPECT_THAT(left, UnorderedElementsAre(chain_a[0], chain_a[1]));
  struct stat st;
  EXPECT_NE(lstat((*b)[0].c_str(), &st), 0);
  EXPECT_EQ(lstat((*a)[0].c_str(), &st), 0);
  EXPECT_EQ(lstat((*a)[1].c_str(), &st), 0);
  EXPECT_THAT(Entries(root_), ElementsAre("snapshots"));
  snap.reset();
  snap = MustOpen();
  EXPECT_EQ(snap->List().size(), 2u);
  ASSERT_TRUE(snap->Prune({}).ok());
  EXPECT_THAT(snap->List(), IsEmpty());
  EXPECT_THAT(Entries(root_ + "/snapshots"), IsEmpty());
}

TEST_F(SnapshotterTest, UsageCountsAllocatedBytes) {
  auto snap = MustOpen();
  std::string big(256 << 10, 'x');
  LayerBlob big_layer =
      testing::WriteLayer(blobs_, {File("big", big), testing::Hardlink("big2", "big")});
  ASSERT_TRUE(snap->Prepare({big_layer}).ok());
  auto usage = snap->Usage();
  ASSERT_TRUE(usage.ok());
  ASSERT_EQ(usage->count(big_layer.diff_id), 1u);
  EXPECT_GE(usage->at(big_layer.diff_id), 256 << 10);
  EXPECT_LT(usage->at(big_layer.diff_id), 2 * (256 << 10)) << "hard links count once";
}

TEST_F(SnapshotterTest, UnpackBoundsApply) {
  UnpackOptions options;
  options.max_entries = 1;
  auto snap = Snapshotter::Open(root_, options);
  ASSERT_TRUE(snap.ok());
  auto dirs = (*snap)->Prepare({base_});
  EXPECT_TRUE(absl::IsResourceExhausted(dirs.status())) << dirs.status();
  EXPECT_THAT((*snap)->List(), IsEmpty());
  EXPECT_THAT(Entries(root_), ElementsAre("snapshots"));
}

TEST_F(SnapshotterTest, RejectsBadInput) {
  EXPECT_TRUE(absl::IsInvalidArgument(Snapshotter::Open("relative").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Snapshotter::Open(dir_.path() + "/a:b").status()));
  auto snap = MustOpen();
  EXPECT_TRUE(absl::IsInvalidArgument(snap->Prepare({}).status()));
  LayerBlob bad = base_;
  bad.diff_id = "md5:abc";
  EXPECT_TRUE(absl::IsInvalidArgument(snap->Prepare({bad}).status()));
}

}  // namespace
}  // namespace berth::snapshot
