#include "runtime/snapshot/unpack.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/snapshot/test_tar.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::snapshot {
namespace {

using ::berth::testing::TempDir;
using testing::Compression;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using ::testing::HasSubstr;
using testing::Symlink;
using testing::TarEntry;

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blobs_ = dir_.path() + "/blobs";
    target_ = dir_.path() + "/target";
    outside_ = dir_.path() + "/outside";
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
  }

  absl::StatusOr<UnpackStats> Unpack(const std::vector<TarEntry>& entries,
                                     Compression c = Compression::kGzip,
                                     UnpackOptions options = {}) {
    LayerBlob l = testing::WriteLayer(blobs_, entries, c);
    return UnpackLayer(l.path, l.media_type, l.diff_id, target_, options);
  }
  bool Exists(const std::string& rel) const {
    struct stat st;
    return lstat((target_ + "/" + rel).c_str(), &st) == 0;
  }
  std::string Read(const std::string& path) const {
    absl::StatusOr<std::string> s = runtime::ReadFile(path);
    return s.ok() ? *s : "<" + s.status().ToString() + ">";
  }
  // The target is gone and nothing was written outside it.
  void ExpectNothingLeft() const {
    struct stat st;
    EXPECT_NE(lstat(target_.c_str(), &st), 0) << target_ << " is still there";
    auto listing = runtime::RunCommand({"/bin/ls", "-A", outside_}, absl::Seconds(5));
    ASSERT_TRUE(listing.ok());
    EXPECT_EQ(listing->output, "") << "written outside the target";
  }

  TempDir dir_{"berth-unpack-test"};
  std::string blobs_, target_, outside_;
};

class UnpackCompressionTest : public UnpackTest,
                              public ::testing::WithParamInterface<Compression> {};

TEST_P(UnpackCompressionTest, KeepsFilesDirsLinksOwnersModesTimesAndXattrs) {
  TarEntry owned = File("etc/owned", "mine", 04750);
  owned.uid = 1234;
  owned.gid = 5678;
  owned.mtime = 1'500'000'000;
  owned.xattrs = {{"user.note", "hello"}};
  TarEntry fifo;
  fifo.kind = TarEntry::Kind::kFifo;
  fifo.path = "run/fifo";
  absl::StatusOr<UnpackStats> stats =
      Unpack({Dir("etc"), owned, File("./etc/plain", "x"), Dir("run", 0711), fifo,
              Symlink("etc/rel", "plain"), Symlink("etc/abs", "/etc/passwd"),
              Hardlink("etc/hard", "etc/plain"), Dir("empty/nested", 0700)},
             GetParam());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->entries, 9);
  EXPECT_EQ(Read(target_ + "/etc/owned"), "mine");
  struct stat st;
  ASSERT_EQ(lstat((target_ + "/etc/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 04750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  char value[16] = {};
  EXPECT_EQ(lgetxattr((target_ + "/etc/owned").c_str(), "user.note", value, sizeof value), 5);
  EXPECT_STREQ(value, "hello");
  ASSERT_EQ(lstat((target_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  ASSERT_EQ(lstat((target_ + "/run/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  char link[64] = {};
  ASSERT_GT(readlink((target_ + "/etc/rel").c_str(), link, sizeof link), 0);
  EXPECT_STREQ(link, "plain");
  ASSERT_GT(readlink((target_ + "/etc/abs").c_str(), link, sizeof link), 0);
  EXPECT_STREQ(link, "/etc/passwd");  // kept as is, resolved inside the container
  struct stat a, b;
  ASSERT_EQ(lstat((target_ + "/etc/hard").c_str(), &a), 0);
  ASSERT_EQ(lstat((target_ + "/etc/plain").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_TRUE(Exists("empty/nested"));
}

INSTANTIATE_TEST_SUITE_P(AllCompressions, UnpackCompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

TEST_F(UnpackTest, DetectsCompressionFromTheBytes) {
  LayerBlob l = testing::WriteLayer(blobs_, {File("a", "1")}, Compression::kZstd);
  // Labelled as a plain tar, read as what it is.
  ASSERT_TRUE(UnpackLayer(l.path, kMediaTypeOciLayer, l.diff_id, target_).ok());
  EXPECT_EQ(Read(target_ + "/a"), "1");
  ASSERT_TRUE(runtime::RemoveTree(target_).ok());
  l = testing::WriteLayer(blobs_, {File("b", "2")}, Compression::kGzip);
  ASSERT_TRUE(UnpackLayer(l.path, kMediaTypeDockerLayer, l.diff_id, target_).ok());
  EXPECT_EQ(Read(target_ + "/b"), "2");
}

TEST_F(UnpackTest, WhiteoutsBecomeCharacterDevicesAndOpaqueMarkersXattrs) {
  absl::StatusOr<UnpackStats> stats =
      Unpack({Dir("etc"), File("etc/.wh.gone", ""), Dir("opt"), File("opt/.wh..wh..opq", ""),
              File("opt/new", "n"), File("deep/er/.wh.x", ""), File("etc/both", "added"),
              File("etc/.wh.both", "")});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->whiteouts, 4);
  struct stat both;
  ASSERT_EQ(lstat((target_ + "/etc/both").c_str(), &both), 0);
  EXPECT_TRUE(IsWhiteout(both)) << "a layer that adds and deletes a name deletes it";
  struct stat st;
  ASSERT_EQ(lstat((target_ + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(IsWhiteout(st));
  EXPECT_FALSE(Exists("etc/.wh.gone"));
  ASSERT_EQ(lstat((target_ + "/deep/er/x").c_str(), &st), 0);
  EXPECT_TRUE(IsWhiteout(st));
  char v[4] = {};
  EXPECT_EQ(lgetxattr((target_ + "/opt").c_str(), kOpaqueXattr, v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(Exists("opt/.wh..wh..opq"));
  EXPECT_EQ(Read(target_ + "/opt/new"), "n");
}

TEST_F(UnpackTest, DeviceNodesAreSkippedAndOverlayXattrsDropped) {
  TarEntry dev;
  dev.kind = TarEntry::Kind::kCharDevice;
  dev.path = "fake-whiteout";
  TarEntry sda = dev;
  sda.path = "sda";
  sda.dev_major = 8;
  TarEntry sneaky = Dir("sneaky");
  sneaky.xattrs = {{"trusted.overlay.opaque", "y"}, {"user.ok", "1"}};
  absl::StatusOr<UnpackStats> stats = Unpack({dev, sda, sneaky});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->devices_skipped, 2);
  EXPECT_FALSE(Exists("fake-whiteout"));
  EXPECT_FALSE(Exists("sda"));
  char v[4];
  EXPECT_LT(lgetxattr((target_ + "/sneaky").c_str(), kOpaqueXattr, v, sizeof v), 0);
  EXPECT_EQ(lgetxattr((target_ + "/sneaky").c_str(), "user.ok", v, sizeof v), 1);
}

TEST_F(UnpackTest, DotDotEscapeFailsAndLeavesNothing) {
  const std::string rel = "../outside/pwned";
  absl::StatusOr<UnpackStats> s = Unpack({File("ok", "1"), File(rel, "x")});
  EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("escapes the layer"));
  ExpectNothingLeft();
}

TEST_F(UnpackTest, AbsolutePathsStayInsideTheLayer) {
  absl::StatusOr<UnpackStats> s = Unpack({File(outside_ + "/pwned", "x")});
  ASSERT_TRUE(s.ok()) << s.status();
  struct stat st;
  EXPECT_NE(lstat((outside_ + "/pwned").c_str(), &st), 0) << "written outside the layer";
  EXPECT_EQ(lstat((target_ + outside_ + "/pwned").c_str(), &st), 0);
}

TEST_F(UnpackTest, WritingThroughASymlinkFailsAndLeavesNothing) {
  for (const std::string& link_target : {outside_, std::string("../outside")}) {
    SCOPED_TRACE(link_target);
    absl::StatusOr<UnpackStats> s = Unpack({Symlink("evil", link_target), File("evil/pwned", "x")});
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
    ExpectNothingLeft();
  }
}

TEST_F(UnpackTest, WhiteoutThroughASymlinkFailsAndLeavesNothing) {
  ASSERT_TRUE(runtime::WriteFileAtomic(outside_ + "/keep", "k").ok());
  absl::StatusOr<UnpackStats> s = Unpack({Symlink("evil", outside_), File("evil/.wh.keep", "")});
  EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
  EXPECT_EQ(Read(outside_ + "/keep"), "k");
  ASSERT_TRUE(runtime::RemoveTree(outside_ + "/keep").ok());
  ExpectNothingLeft();
}

TEST_F(UnpackTest, HardLinksOutOfTheLayerFailAndLeaveNothing) {
  ASSERT_TRUE(runtime::WriteFileAtomic(outside_ + "/secret", "s").ok());
  const std::vector<std::vector<TarEntry>> cases = {
      {Hardlink("h", "../outside/secret")},
      {Hardlink("h", outside_ + "/secret")},
      {Symlink("evil", outside_), Hardlink("h", "evil/secret")},
      {Hardlink("h", "missing")},
  };
  for (const auto& entries : cases) {
    absl::StatusOr<UnpackStats> s = Unpack(entries);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
    struct stat st;
    EXPECT_NE(lstat(target_.c_str(), &st), 0);
    ASSERT_EQ(stat((outside_ + "/secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);
  }
  ASSERT_TRUE(runtime::RemoveTree(outside_ + "/secret").ok());
  ExpectNothingLeft();
}

TEST_F(UnpackTest, WrongDiffIdIsDataLossAndLeavesNothing) {
  LayerBlob l = testing::WriteLayer(blobs_, {Dir("etc"), File("etc/a", "1")});
  const std::string wrong = testing::Sha256("something else");
  absl::StatusOr<UnpackStats> s = UnpackLayer(l.path, l.media_type, wrong, target_);
  EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(l.diff_id));
  ExpectNothingLeft();
}

TEST_F(UnpackTest, TruncatedBlobIsDataLossAndLeavesNothing) {
  std::string big(300 << 10, 'z');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    SCOPED_TRACE(static_cast<int>(c));
    LayerBlob l = testing::WriteLayer(blobs_, {File("big", big), File("after", "1")}, c);
    absl::StatusOr<std::string> blob = runtime::ReadFile(l.path, 1 << 22);
    ASSERT_TRUE(blob.ok());
    ASSERT_TRUE(runtime::WriteFileAtomic(l.path, blob->substr(0, blob->size() / 2)).ok());
    absl::StatusOr<UnpackStats> s = UnpackLayer(l.path, l.media_type, l.diff_id, target_);
    EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
    ExpectNothingLeft();
  }
}

TEST_F(UnpackTest, BoundsStopTarBombs) {
  UnpackOptions few_entries;
  few_entries.max_entries = 2;
  absl::StatusOr<UnpackStats> s =
      Unpack({File("a", ""), File("b", ""), File("c", "")}, Compression::kGzip, few_entries);
  EXPECT_TRUE(absl::IsResourceExhausted(s.status())) << s.status();
  ExpectNothingLeft();
  UnpackOptions few_bytes;
  few_bytes.max_bytes = 1 << 20;
  s = Unpack({File("zeros", std::string(4 << 20, '\0'))}, Compression::kZstd, few_bytes);
  EXPECT_TRUE(absl::IsResourceExhausted(s.status())) << s.status();
  ExpectNothingLeft();
}

TEST_F(UnpackTest, RejectsBadArguments) {
  LayerBlob l = testing::WriteLayer(blobs_, {File("a", "1")});
  EXPECT_TRUE(absl::IsInvalidArgument(
      UnpackLayer(l.path, "application/vnd.oci.image.layer.v1.tar+encrypted", l.diff_id, target_)
          .status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(UnpackLayer(l.path, l.media_type, "sha256:abc", target_).status()));
  EXPECT_TRUE(absl::IsNotFound(
      UnpackLayer(dir_.path() + "/nope", l.media_type, l.diff_id, target_).status()));
  ExpectNothingLeft();
  ASSERT_EQ(mkdir(target_.c_str(), 0755), 0);
  EXPECT_TRUE(
      absl::IsAlreadyExists(UnpackLayer(l.path, l.media_type, l.diff_id, target_).status()));
}

TEST_F(UnpackTest, NotATarIsInvalidArgument) {
  const std::string junk = "this is not a tar archive at all, not even close";
  ASSERT_TRUE(runtime::WriteFileAtomic(blobs_ + "-junk", junk).ok());
  absl::StatusOr<UnpackStats> s =
      UnpackLayer(blobs_ + "-junk", kMediaTypeOciLayer, testing::Sha256(junk), target_);
  EXPECT_FALSE(s.ok());
  ExpectNothingLeft();
}

}  // namespace
}  // namespace berth::snapshot
