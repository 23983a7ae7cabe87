// Containers on multi-layer root file systems, on real runc: image layers
// unpacked by the snapshotter, stacked by overlay (or copied when the
// runtime runs in copy mode), seen merged from inside the container.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/runc_runtime.h"
#include "runtime/snapshot/snapshotter.h"
#include "runtime/snapshot/test_tar.h"
#include "runtime/sys/process.h"
#include "tests/test_env.h"

namespace berth::runtime {
namespace {

using ::berth::snapshot::LayerBlob;
using ::berth::snapshot::Snapshotter;
using ::berth::snapshot::testing::Dir;
using ::berth::snapshot::testing::File;
using ::berth::snapshot::testing::Symlink;
using ::berth::snapshot::testing::TarEntry;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A busybox base layer, then one that deletes a file of the base
// (whiteout) and replaces a directory (opaque), then one that adds a file.
std::vector<std::vector<TarEntry>> ThreeLayers() {
  absl::StatusOr<std::string> busybox = ReadFile("/bin/busybox", 16 << 20);
  if (!busybox.ok()) abort();
  std::vector<TarEntry> base = {Dir("bin"), File("bin/busybox", *busybox, 0755)};
  for (const char* applet : {"sh", "ls", "cat", "echo", "sleep"}) {
    base.push_back(Symlink(absl::StrCat("bin/", applet), "busybox"));
  }
  for (const char* d : {"proc", "sys", "dev", "etc", "data", "opt", "opt/old"})
    base.push_back(Dir(d));
  base.push_back(Dir("tmp", 01777));
  base.push_back(File("etc/passwd", "root:x:0:0:root:/:/bin/sh\n"));
  base.push_back(File("data/base-file", "base\n"));
  base.push_back(File("data/keep", "keep\n"));
  base.push_back(File("opt/old/a", "a\n"));
  base.push_back(File("opt/b", "b\n"));
  return {base,
          {Dir("data"), File("data/.wh.base-file", ""), Dir("opt"), File("opt/.wh..wh..opq", ""),
           File("opt/new", "new\n")},
          {Dir("data"), File("data/top", "top\n")}};
}

// stdout lines of a CRI log.
std::vector<std::string> StdoutLines(const std::string& log) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    size_t at = line.find(" stdout F ");
    if (at != absl::string_view::npos) out.emplace_back(line.substr(at + 10));
  }
  return out;
}

class LayersE2eTest : public ::testing::TestWithParam<RootfsMode> {
 protected:
  void SetUp() override {
    RuncRuntimeOptions options = world_.RuntimeOptions();
    options.rootfs_mode = GetParam();
    auto rt = RuncRuntime::Open(options);
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime_ = *std::move(rt);
    ASSERT_EQ(runtime_->rootfs_mode(), GetParam()) << "overlay probe failed on this host";
    auto snap = Snapshotter::Open(world_.dir() + "/snapshots");
    ASSERT_TRUE(snap.ok()) << snap.status();
    snapshotter_ = *std::move(snap);
    for (const auto& entries : ThreeLayers()) {
      layers_.push_back(snapshot::testing::WriteLayer(world_.dir() + "/blobs", entries));
    }
  }

  void TearDown() override {
    if (runtime_ != nullptr) {
      auto all = runtime_->List();
      ASSERT_TRUE(all.ok());
      for (const auto& c : *all) EXPECT_TRUE(runtime_->Delete(c.id).ok()) << c.id;
    }
    runtime_.reset();
    EXPECT_THAT(world_.Leaks(), IsEmpty());
  }

  // Runs `script` to completion and returns its stdout lines.
  std::vector<std::string> RunToExit(const std::string& id, const std::vector<std::string>& lowers,
                                     const std::string& script) {
    ContainerSpec spec;
    spec.id = id;
    spec.rootfs_layers = lowers;
    spec.args = {"/bin/sh", "-c", script};
    absl::Status created = runtime_->Create(spec);
    EXPECT_TRUE(created.ok()) << created;
    if (!created.ok()) return {};
    EXPECT_TRUE(runtime_->Start(id).ok());
    EXPECT_TRUE(WaitFor(
        [&] {
          auto st = runtime_->State(id);
          return st.ok() && st->state == ContainerState::kStopped;
        },
        absl::Seconds(20)));
    auto st = runtime_->State(id);
    EXPECT_TRUE(st.ok() && st->exit_code == 0) << (st.ok() ? st->reason : st.status().ToString());
    auto log = ReadFile(world_.state_dir() + "/" + id + "/container.log");
    return log.ok() ? StdoutLines(*log) : std::vector<std::string>{};
  }

  bool Exists(const std::string& path) const {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
  }

  TestWorld world_;
  std::unique_ptr<RuncRuntime> runtime_;
  std::unique_ptr<Snapshotter> snapshotter_;
  std::vector<LayerBlob> layers_;
};

TEST_P(LayersE2eTest, ContainerSeesTheMergedViewAndWritesToItsOwnLayer) {
  auto lowers = snapshotter_->Prepare(layers_);
  ASSERT_TRUE(lowers.ok()) << lowers.status();
  ASSERT_EQ(lowers->size(), 3u);
  std::vector<std::string> out =
      RunToExit("merged", *lowers,
                "echo data:; ls /data; echo opt:; ls /opt; cat /data/top; "
                "echo written > /data/written; rm /data/keep; echo end");
  EXPECT_THAT(out, ElementsAre("data:", "keep", "top", "opt:", "new", "top", "end"));

  // The layers are untouched: writes and deletes went to the container's
  // own layer.
  const std::string base = (*lowers)[2];
  EXPECT_TRUE(Exists(base + "/data/base-file"));
  EXPECT_TRUE(Exists(base + "/data/keep"));
  EXPECT_TRUE(Exists(base + "/opt/old/a"));
  for (const std::string& l : *lowers) EXPECT_FALSE(Exists(l + "/data/written")) << l;
  const std::string container = world_.state_dir() + "/merged";
  // Neither mode leaves a mount on the node (overlay's is the container's).
  EXPECT_FALSE(IsMountPoint(container + "/bundle/rootfs"));
  if (GetParam() == RootfsMode::kOverlay) {
    EXPECT_EQ(*ReadFile(container + "/upper/data/written"), "written\n");
    struct stat st;
    ASSERT_EQ(lstat((container + "/upper/data/keep").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the delete is a whiteout in the upper dir";
  } else {
    EXPECT_EQ(*ReadFile(container + "/bundle/rootfs/data/written"), "written\n");
  }

  ASSERT_TRUE(runtime_->Delete("merged").ok());
  EXPECT_FALSE(Exists(container)) << "delete removes the upper dir with the container's";
  EXPECT_THAT(MountsUnder(world_.dir()), IsEmpty());
  EXPECT_TRUE(Exists(base + "/data/keep"));
}

TEST_P(LayersE2eTest, TwoContainersOnSharedLayersDoNotSeeEachOthersWrites) {
  auto lowers = snapshotter_->Prepare(layers_);
  ASSERT_TRUE(lowers.ok()) << lowers.status();
  EXPECT_THAT(RunToExit("one", *lowers, "echo one > /data/mine; ls /data"),
              ElementsAre("keep", "mine", "top"));
  EXPECT_THAT(RunToExit("two", *lowers, "ls /data"), ElementsAre("keep", "top"));
}

TEST_P(LayersE2eTest, TooManyLayersForOnePageAreCopied) {
  auto lowers = snapshotter_->Prepare(layers_);
  ASSERT_TRUE(lowers.ok()) << lowers.status();
  std::vector<std::string> many;
  const std::string padding(60, 'p');
  for (int i = 0; i < 80; ++i) {
    many.push_back(absl::StrCat(world_.dir(), "/empty-layer-", padding, "-", i));
    ASSERT_EQ(mkdir(many.back().c_str(), 0755), 0);
  }
  many.insert(many.end(), lowers->begin(), lowers->end());
  EXPECT_THAT(RunToExit("many", many, "ls /data; ls /opt"), ElementsAre("keep", "top", "new"));
  EXPECT_FALSE(IsMountPoint(world_.state_dir() + "/many/bundle/rootfs"));
}

TEST_P(LayersE2eTest, MissingLayerFailsCreateAndLeavesNothing) {
  ContainerSpec spec;
  spec.id = "missing";
  spec.rootfs_layers = {world_.dir() + "/no-such-layer", berth::testing::BusyboxRootfs()};
  spec.args = {"/bin/true"};
  absl::Status s = runtime_->Create(spec);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("no-such-layer"));
}

// The overlay's own cases.
class OverlayLayersE2eTest : public LayersE2eTest {};

// The overlay is mounted for runc alone: the container's root is an
// overlay in its own mount namespace, and the node's mount table does not
// change, also where the state directory is a shared mount (systemd makes
// every mount shared): nothing propagates back.
TEST_P(OverlayLayersE2eTest, OverlayIsMountedOnlyInTheContainersNamespace) {
  const std::string state = world_.state_dir();
  ASSERT_EQ(mount(state.c_str(), state.c_str(), nullptr, MS_BIND, nullptr), 0) << strerror(errno);
  absl::Cleanup unbind = [&] { umount2(state.c_str(), MNT_DETACH); };
  ASSERT_EQ(mount(nullptr, state.c_str(), nullptr, MS_SHARED, nullptr), 0) << strerror(errno);
  auto lowers = snapshotter_->Prepare(layers_);
  ASSERT_TRUE(lowers.ok()) << lowers.status();
  ContainerSpec spec;
  spec.id = "own";
  spec.rootfs_layers = *lowers;
  spec.args = {"/bin/sleep", "1000"};
  ASSERT_TRUE(runtime_->Create(spec).ok());
  ASSERT_TRUE(runtime_->Start("own").ok());
  auto st = runtime_->State("own");
  ASSERT_TRUE(st.ok() && st->pid > 0);

  const std::string upper = "upperdir=" + state + "/own/upper";
  auto theirs = ReadFile(absl::StrCat("/proc/", st->pid, "/mountinfo"), 1 << 20);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  bool root_is_overlay = false;
  for (absl::string_view line : absl::StrSplit(*theirs, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() > 4 && f[4] == "/" && absl::StrContains(line, " - overlay overlay ") &&
        absl::StrContains(line, upper)) {
      root_is_overlay = true;
    }
  }
  EXPECT_TRUE(root_is_overlay) << *theirs;
  auto ours = ReadFile("/proc/self/mountinfo", 1 << 20);
  ASSERT_TRUE(ours.ok());
  EXPECT_FALSE(absl::StrContains(*ours, upper)) << *ours;
  EXPECT_FALSE(IsMountPoint(state + "/own/bundle/rootfs"));
  EXPECT_THAT(MountsUnder(world_.dir()), ElementsAre(state)) << "only the test's own bind";

  ASSERT_TRUE(runtime_->Delete("own").ok());
  EXPECT_FALSE(Exists(state + "/own"));
}

// The monitor mounts the overlay just before runc create: a failed mount
// (here a layer removed after the runtime checked it) fails the create with
// the mount's reason and leaves nothing behind.
TEST_P(OverlayLayersE2eTest, FailedOverlayMountFailsCreateWithItsReasonAndLeavesNothing) {
  class RemoveLayerAtMount : public FaultInjector {
   public:
    explicit RemoveLayerAtMount(std::string layer) : layer_(std::move(layer)) {}
    absl::Status Check(absl::string_view step) override {
      if (step == "rootfs_mount") rmdir(layer_.c_str());
      return absl::OkStatus();
    }

   private:
    std::string layer_;
  };
  const std::string gone = world_.dir() + "/vanishing-layer";
  ASSERT_TRUE(MakeDirs(gone).ok());
  RemoveLayerAtMount faults(gone);
  RuncRuntimeOptions options = world_.RuntimeOptions();
  options.faults = &faults;
  runtime_.reset();
  auto rt = RuncRuntime::Open(options);
  ASSERT_TRUE(rt.ok()) << rt.status();
  runtime_ = *std::move(rt);
  ContainerSpec spec;
  spec.id = "unmounted";
  spec.rootfs_layers = {gone, berth::testing::BusyboxRootfs()};
  spec.args = {"/bin/true"};
  absl::Status s = runtime_->Create(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("mount overlay on " + world_.state_dir() +
                                   "/unmounted/bundle/rootfs: No such file or directory"));
  EXPECT_FALSE(Exists(world_.state_dir() + "/unmounted"));
}

// Overlay cannot use an overlay as its upper file system: a state dir on
// one makes the runtime's probe fail and fall back to copies.
TEST(LayersFallbackE2eTest, OverlayProbeFailureFallsBackToCopies) {
  TestWorld world;
  const std::string ovl = world.dir() + "/ovl";
  for (const char* d : {"/l", "/u", "/w", "/m"}) ASSERT_TRUE(MakeDirs(ovl + d).ok());
  const std::string options =
      absl::StrCat("lowerdir=", ovl, "/l,upperdir=", ovl, "/u,workdir=", ovl, "/w");
  ASSERT_EQ(mount("overlay", (ovl + "/m").c_str(), "overlay", 0, options.c_str()), 0)
      << strerror(errno);
  {
    RuncRuntimeOptions o = world.RuntimeOptions();
    o.state_dir = ovl + "/m/containers";
    auto rt = RuncRuntime::Open(o);
    ASSERT_TRUE(rt.ok()) << rt.status();
    EXPECT_EQ((*rt)->rootfs_mode(), RootfsMode::kCopy);
    auto snap = Snapshotter::Open(world.dir() + "/snapshots");
    ASSERT_TRUE(snap.ok());
    std::vector<LayerBlob> blobs;
    for (const auto& entries : ThreeLayers()) {
      blobs.push_back(snapshot::testing::WriteLayer(world.dir() + "/blobs", entries));
    }
    auto lowers = (*snap)->Prepare(blobs);
    ASSERT_TRUE(lowers.ok()) << lowers.status();
    ContainerSpec spec;
    spec.id = "copied";
    spec.rootfs_layers = *lowers;
    spec.args = {"/bin/sh", "-c", "ls /data /opt"};
    ASSERT_TRUE((*rt)->Create(spec).ok());
    ASSERT_TRUE((*rt)->Start("copied").ok());
    EXPECT_TRUE(WaitFor(
        [&] {
          auto st = (*rt)->State("copied");
          return st.ok() && st->state == ContainerState::kStopped;
        },
        absl::Seconds(20)));
    auto log = ReadFile(o.state_dir + "/copied/container.log");
    ASSERT_TRUE(log.ok());
    EXPECT_THAT(StdoutLines(*log), ElementsAre("/data:", "keep", "top", "", "/opt:", "new"));
    EXPECT_TRUE((*rt)->Delete("copied").ok());
    auto left = runtime::RunCommand({"/bin/ls", "-A", o.state_dir}, absl::Seconds(5));
    ASSERT_TRUE(left.ok());
    EXPECT_EQ(left->output, "") << "no probe or container left";
  }
  ASSERT_EQ(umount2((ovl + "/m").c_str(), MNT_DETACH), 0);
  EXPECT_THAT(world.Leaks(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Modes, LayersE2eTest,
                         ::testing::Values(RootfsMode::kOverlay, RootfsMode::kCopy),
                         [](const auto& info) { return std::string(RootfsModeName(info.param)); });
INSTANTIATE_TEST_SUITE_P(Overlay, OverlayLayersE2eTest, ::testing::Values(RootfsMode::kOverlay),
                         [](const auto& info) { return std::string(RootfsModeName(info.param)); });

}  // namespace
}  // namespace berth::runtime
