#include "runtime/sys/cgroups.h"

#include <sys/stat.h>

#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/temp_dir.h"

namespace berth::runtime {
namespace {

// A fake cgroup tree: one directory per hierarchy under a temp dir, each
// holding the container's cgroup with both freezer files saying "frozen",
// and a mount table naming them. Only the file the freezer check may read is
// then set to "thawed": a check that looks anywhere else sees a frozen
// container.
class FakeCgroupTree {
 public:
  // `hierarchies`: mount point name and the fstype/options of its mountinfo line.
  FakeCgroupTree(std::initializer_list<std::pair<std::string, std::string>> hierarchies) {
    int id = 30;
    for (const auto& [name, fs] : hierarchies) {
      const std::string cgroup = absl::StrCat(dir_.path(), "/", name, "/berth/c1");
      EXPECT_EQ(mkdir(absl::StrCat(dir_.path(), "/", name).c_str(), 0755), 0);
      EXPECT_EQ(mkdir(absl::StrCat(dir_.path(), "/", name, "/berth").c_str(), 0755), 0);
      EXPECT_EQ(mkdir(cgroup.c_str(), 0755), 0);
      Write(cgroup + "/freezer.state", "FROZEN\n");
      Write(cgroup + "/cgroup.freeze", "1\n");
      absl::StrAppend(&mountinfo_, id, " 25 0:", id, " / ", dir_.path(), "/", name,
                      " rw,nosuid,nodev,noexec,relatime shared:", id, " - ", fs, "\n");
      ++id;
    }
    // Other mounts are not hierarchies.
    absl::StrAppend(&mountinfo_, "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
                    "90 22 0:50 / ", dir_.path(),
                    "/ovl rw shared:60 - overlay overlay rw,freezer\n");
  }

  static void Write(const std::string& path, const std::string& content) {
    std::ofstream(path) << content;
  }
  std::string Path(const std::string& name, const std::string& file) const {
    return absl::StrCat(dir_.path(), "/", name, "/berth/c1/", file);
  }
  const std::string& mountinfo() const { return mountinfo_; }
  const std::string& root() const { return dir_.path(); }

 private:
  testing::TempDir dir_;
  std::string mountinfo_;
};

TEST(CgroupsTest, V1FreezerReadsOnlyTheFreezerHierarchysFreezerState) {
  FakeCgroupTree tree({{"cpu,cpuacct", "cgroup cgroup rw,cpu,cpuacct"},
                       {"memory", "cgroup cgroup rw,memory"},
                       {"systemd", "cgroup cgroup rw,xattr,name=systemd"},
                       {"freezer", "cgroup cgroup rw,freezer"},
                       {"pids", "cgroup cgroup rw,pids"},
                       {"unified", "cgroup2 cgroup2 rw,nsdelegate"}});
  const FreezerFile freezer = FindFreezerFile(tree.mountinfo());
  EXPECT_EQ(freezer.mount_point, tree.root() + "/freezer");
  EXPECT_EQ(freezer.file, "freezer.state");

  FakeCgroupTree::Write(tree.Path("freezer", "freezer.state"), "THAWED\n");
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "/berth/c1"));
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "berth/c1"));
  FakeCgroupTree::Write(tree.Path("freezer", "freezer.state"), "FROZEN\n");
  EXPECT_TRUE(CgroupIsFrozenAt(freezer, "/berth/c1"));
  // FREEZING (not all tasks stopped yet) is not paused.
  FakeCgroupTree::Write(tree.Path("freezer", "freezer.state"), "FREEZING\n");
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "/berth/c1"));
}

TEST(CgroupsTest, V2FreezerReadsOnlyTheUnifiedCgroupFreeze) {
  FakeCgroupTree tree({{"unified", "cgroup2 cgroup2 rw,nsdelegate"}});
  const FreezerFile freezer = FindFreezerFile(tree.mountinfo());
  EXPECT_EQ(freezer.mount_point, tree.root() + "/unified");
  EXPECT_EQ(freezer.file, "cgroup.freeze");

  FakeCgroupTree::Write(tree.Path("unified", "cgroup.freeze"), "0\n");
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "/berth/c1"));
  FakeCgroupTree::Write(tree.Path("unified", "cgroup.freeze"), "1\n");
  EXPECT_TRUE(CgroupIsFrozenAt(freezer, "/berth/c1"));
}

TEST(CgroupsTest, HybridHostPrefersTheV1FreezerOverTheUnifiedHierarchy) {
  // The unified hierarchy listed first, as systemd's hybrid layout can.
  FakeCgroupTree tree({{"unified", "cgroup2 cgroup2 rw"}, {"freezer", "cgroup cgroup rw,freezer"}});
  const FreezerFile freezer = FindFreezerFile(tree.mountinfo());
  EXPECT_EQ(freezer.mount_point, tree.root() + "/freezer");
  FakeCgroupTree::Write(tree.Path("freezer", "freezer.state"), "THAWED\n");
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "/berth/c1"));
}

TEST(CgroupsTest, NoFreezerMountedOrNoCgroupIsNotFrozen) {
  FakeCgroupTree tree({{"memory", "cgroup cgroup rw,memory"}});
  const FreezerFile none = FindFreezerFile(tree.mountinfo());
  EXPECT_TRUE(none.mount_point.empty());
  EXPECT_FALSE(CgroupIsFrozenAt(none, "/berth/c1"));

  FakeCgroupTree v1({{"freezer", "cgroup cgroup rw,freezer"}});
  const FreezerFile freezer = FindFreezerFile(v1.mountinfo());
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "/berth/gone"));  // removed container
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, "/"));
  EXPECT_FALSE(CgroupIsFrozenAt(freezer, ""));
}

}  // namespace
}  // namespace berth::runtime
