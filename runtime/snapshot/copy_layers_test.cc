#include "runtime/snapshot/copy_layers.h"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/snapshot/test_tar.h"
#include "runtime/snapshot/unpack.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::snapshot {
namespace {

using ::berth::testing::TempDir;
using ::testing::Contains;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using ::testing::Not;
using testing::Symlink;
using testing::TarEntry;

// One line per path below `root`: type, mode, owner, size or link target,
// content, sorted. Times are left out: overlay shows a copied-up
// directory's own.
void Walk(const std::string& root, const std::string& rel, std::vector<std::string>* out) {
  DIR* d = opendir((root + rel).c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  for (const std::string& n : names) {
    const std::string path = rel + "/" + n;
    struct stat st;
    if (lstat((root + path).c_str(), &st) != 0) continue;
    std::string what;
    if (S_ISLNK(st.st_mode)) {
      char buf[256] = {};
      readlink((root + path).c_str(), buf, sizeof buf - 1);
      what = absl::StrCat("-> ", buf);
    } else if (S_ISREG(st.st_mode)) {
      auto content = runtime::ReadFile(root + path);
      what = absl::StrCat("= ", content.ok() ? *content : "?", " links ", st.st_nlink);
    }
    out->push_back(
        absl::StrCat(path, " ", absl::Hex(st.st_mode), " ", st.st_uid, ":", st.st_gid, " ", what));
    if (S_ISDIR(st.st_mode)) Walk(root, path, out);
  }
}

std::vector<std::string> Tree(const std::string& root) {
  std::vector<std::string> out;
  Walk(root, "", &out);
  std::sort(out.begin(), out.end());
  return out;
}

class CopyLayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TarEntry owned = File("etc/passwd", "root:x:0:0\nnew\n", 0600);
    owned.uid = 5;
    TarEntry note = File("note", "n");
    note.xattrs = {{"user.k", "v"}};
    const std::vector<std::vector<TarEntry>> layers = {
        {Dir("etc"), File("etc/passwd", "root:x:0:0\n"), File("etc/gone", "g"), Dir("opt"),
         Dir("opt/old"), File("opt/old/a", "a"), File("opt/b", "b"), Dir("lib"), File("lib/x", "x"),
         Symlink("passwd-link", "/etc/passwd"), Dir("dir2"), File("dir2/inner", "i"),
         File("file2", "f"), File("hard1", "h"), Hardlink("hard2", "hard1")},
        {File("etc/.wh.gone", ""), owned, Dir("opt"), File("opt/.wh..wh..opq", ""),
         File("opt/new", "new"), File("dir2", "now a file"), Dir("file2"),
         File("file2/inner", "i2"), note},
        {File("top", "t"), File("lib/.wh.x", ""), File("opt/new2", "n2"),
         Symlink("etc/rel", "passwd")},
    };
    for (size_t i = 0; i < layers.size(); ++i) {
      LayerBlob l = testing::WriteLayer(dir_.path() + "/blobs", layers[i]);
      const std::string target = absl::StrCat(dir_.path(), "/layer", i);
      ASSERT_TRUE(UnpackLayer(l.path, l.media_type, l.diff_id, target).ok());
      lowers_.insert(lowers_.begin(), target);  // top-most first
    }
  }
  void TearDown() override { umount2((dir_.path() + "/merged").c_str(), MNT_DETACH); }

  TempDir dir_{"berth-copy-layers-test"};
  std::vector<std::string> lowers_;
};

TEST_F(CopyLayersTest, ShowsTheMergedViewWithWhiteoutsApplied) {
  const std::string copy = dir_.path() + "/copy";
  ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
  ASSERT_TRUE(CopyLayers(lowers_, copy).ok());
  std::vector<std::string> tree = Tree(copy);
  EXPECT_THAT(tree, Contains("/etc/passwd 8180 5:0 = root:x:0:0\nnew\n links 1"));
  EXPECT_THAT(tree, Contains("/etc/rel a1ff 0:0 -> passwd"));
  EXPECT_THAT(tree, Contains("/passwd-link a1ff 0:0 -> /etc/passwd"));
  EXPECT_THAT(tree, Contains("/dir2 81a4 0:0 = now a file links 1"));
  EXPECT_THAT(tree, Contains("/file2/inner 81a4 0:0 = i2 links 1"));
  EXPECT_THAT(tree, Contains("/opt/new 81a4 0:0 = new links 1"));
  EXPECT_THAT(tree, Contains("/hard2 81a4 0:0 = h links 2"));
  for (const char* gone : {"/etc/gone", "/opt/old", "/opt/b", "/lib/x", "/dir2/inner"}) {
    for (const std::string& line : tree)
      EXPECT_NE(line.rfind(absl::StrCat(gone, " "), 0), 0u) << line;
  }
  char v[4] = {};
  EXPECT_EQ(lgetxattr((copy + "/note").c_str(), "user.k", v, sizeof v), 1);
  EXPECT_LT(lgetxattr((copy + "/opt").c_str(), kOpaqueXattr, v, sizeof v), 0)
      << "no overlay xattrs";
  struct stat st;
  for (const std::string& line : tree) {
    // No whiteout devices in a merged view.
    EXPECT_EQ(line.find(" 2000 "), std::string::npos) << line;
  }
  // A copy: writing to it leaves the layers alone.
  ASSERT_TRUE(runtime::WriteFileAtomic(copy + "/top", "changed").ok());
  EXPECT_EQ(*runtime::ReadFile(lowers_[0] + "/top"), "t");
  ASSERT_EQ(lstat((lowers_[2] + "/hard1").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u) << "no links into the layers";
}

TEST_F(CopyLayersTest, MatchesAnOverlayMountOfTheSameLayers) {
  if (!ProbeOverlay(dir_.path() + "/probe").ok()) GTEST_SKIP() << "no overlay here";
  const std::string copy = dir_.path() + "/copy", merged = dir_.path() + "/merged";
  ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(merged.c_str(), 0755), 0);
  ASSERT_TRUE(CopyLayers(lowers_, copy).ok());
  const std::string options = absl::StrCat("lowerdir=", absl::StrJoin(lowers_, ":"));
  ASSERT_EQ(mount("overlay", merged.c_str(), "overlay", MS_RDONLY, options.c_str()), 0)
      << strerror(errno);
  std::vector<std::string> overlay_tree = Tree(merged);
  ASSERT_EQ(umount2(merged.c_str(), MNT_DETACH), 0);
  EXPECT_EQ(Tree(copy), overlay_tree);
  EXPECT_THAT(overlay_tree, Not(Contains(::testing::HasSubstr("/etc/gone"))));
}

}  // namespace
}  // namespace berth::snapshot
