// berthd with images from a real registry on 127.0.0.1 (Debian's
// docker-registry, test images built from busybox-static): pull and run,
// shared layers, a registry that is down, a pull that stalls while berthd
// stops, garbage collection. Every test checks for leaks afterwards.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/registry_env.h"
#include "tests/stalling_proxy.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::OwnedProcess;
using ::berth::testing::RegistryEnv;
using ::berth::testing::StallingProxy;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(60);

class BerthdImagesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = RegistryEnv::Start();
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    ASSERT_TRUE(registry_->PushTestImages({"busybox", "layers"}).ok());
    manifests_ = world_.dir() + "/manifests";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
  }

  void TearDown() override {
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << berthd_.Log();
  }

  void StartBerthd(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BERTH_BERTHD_PATH,
                                     "--manifests-dir=" + manifests_,
                                     "--insecure-registries=" + registry_->host(),
                                     "--relist-period=100ms",
                                     "--resync-period=1s",
                                     "--restart-backoff-initial=500ms",
                                     "--restart-backoff-max=2s"};
    for (std::string& f : berth::testing::BerthdTestFlags(world_)) argv.push_back(std::move(f));
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  }

  std::string Image(const std::string& name) const { return registry_->host() + "/" + name + ":1"; }

  void Write(const std::string& name, const std::string& image, const std::string& command,
             const std::string& extra = "") {
    const std::string content = absl::StrCat(
        "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ", name,
        "\nspec:\n  image: ", image, "\n  command: [\"sh\", \"-c\", ", json(command).dump(),
        "]\n  stopSignal: SIGKILL\n", extra);
    const std::string tmp = manifests_ + "/." + name + ".tmp";
    ASSERT_TRUE(runtime::WriteFileAtomic(tmp, content).ok());
    ASSERT_EQ(rename(tmp.c_str(), (manifests_ + "/" + name + ".yaml").c_str()), 0);
  }

  json Status(const std::string& id) const {
    return berth::testing::ReadStatusFile(world_.berth_state_dir(), id);
  }

  template <typename Pred>
  json WaitStatus(const std::string& id, Pred pred) {
    return berth::testing::WaitStatusFile(world_.berth_state_dir(), id, pred, kWait);
  }

  json WaitRunning(const std::string& id) { return WaitStatus(id, berth::testing::IsRunning); }

  std::string ContainerLog(const std::string& id) const {
    return runtime::ReadFile(world_.state_dir() + "/" + id + "/container.log").value_or("");
  }

  int Snapshots() const {
    int n = 0;
    const std::string dir = world_.berth_state_dir() + "/images/snapshots/snapshots";
    for (int i = 1; i < 1000; ++i) {
      struct stat st;
      if (stat(absl::StrCat(dir, "/", i).c_str(), &st) == 0) ++n;
    }
    return n;
  }

  TestWorld world_;
  std::unique_ptr<RegistryEnv> registry_;
  std::string manifests_;
  OwnedProcess berthd_;
};

TEST_F(BerthdImagesE2eTest, PullsAndRunsWithSharedLayersAndWhiteouts) {
  StartBerthd();
  Write("one", Image("busybox"), "echo one-up; exec sleep 1000");
  Write("two", Image("busybox"), "exec sleep 1000");
  json one = WaitRunning("default.one");
  WaitRunning("default.two");
  EXPECT_THAT(one.value("imageID", ""), ::testing::StartsWith("sha256:"));
  EXPECT_EQ(one["image"], Image("busybox"));
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(ContainerLog("default.one"), "one-up"); }, kWait));
  EXPECT_EQ(Snapshots(), 1) << "two containers of a one-layer image share its layer";
  EXPECT_THAT(berthd_.Log(), HasSubstr("pull " + registry_->host() + "/busybox:1"));

  // layers:1 deletes /data/gone of a lower layer (a whiteout) and replaces
  // /opq (opaque): the container sees the merged view.
  Write("merged", Image("layers"),
        "cat /data/keep /opq/c; test -e /data/gone || echo no-gone; "
        "test -e /opq/a || echo no-a; exec sleep 1000");
  WaitRunning("default.merged");
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string log = ContainerLog("default.merged");
        return absl::StrContains(log, "no-a") && absl::StrContains(log, "no-gone") &&
               absl::StrContains(log, " keep") && absl::StrContains(log, " c\n");
      },
      kWait))
      << ContainerLog("default.merged");
  EXPECT_GE(Snapshots(), 5);
}

TEST_F(BerthdImagesE2eTest, RegistryDownIsImagePullBackOffUntilItReturns) {
  registry_->Stop();
  StartBerthd();
  Write("web", Image("busybox"), "exec sleep 1000");
  json failed = WaitStatus("default.web", [](const json& s) {
    return s.value("reason", "") == "ErrImagePull" || s.value("reason", "") == "ImagePullBackOff";
  });
  EXPECT_EQ(failed["phase"], "Pending");
  EXPECT_FALSE(failed.value("lastError", "").empty());
  WaitStatus("default.web",
             [](const json& s) { return s.value("reason", "") == "ImagePullBackOff"; });
  ASSERT_TRUE(registry_->Restart().ok());
  WaitRunning("default.web");
}

// Bytes in the content store's partial downloads.
int64_t PartialBytes(const std::string& ingest_dir) {
  int64_t total = 0;
  DIR* d = opendir(ingest_dir.c_str());
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {
    struct stat st;
    if (absl::EndsWith(e->d_name, ".partial") &&
        stat((ingest_dir + "/" + e->d_name).c_str(), &st) == 0) {
      total += st.st_size;
    }
  }
  closedir(d);
  return total;
}

TEST_F(BerthdImagesE2eTest, StopDuringAStalledPullIsQuickAndTheNextStartResumes) {
  auto proxy = StallingProxy::Start(registry_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  (*proxy)->set_budget(400 << 10);  // busybox's layer is about 1 MB
  const std::vector<std::string> flags = {
      absl::StrCat("--insecure-registries=", registry_->host(), ",", (*proxy)->host())};
  StartBerthd(flags);
  Write("web", (*proxy)->host() + "/busybox:1", "exec sleep 1000");
  const std::string ingest = world_.berth_state_dir() + "/images/content/ingest";
  ASSERT_TRUE(WaitFor([&] { return (*proxy)->stalled() > 0 && PartialBytes(ingest) > 0; }, kWait))
      << "the layer's download never got under way";

  // The pull would wait out its 30 s timeout; stopping cancels it instead.
  const absl::Time begin = absl::Now();
  const int status = berthd_.Stop(SIGTERM);
  EXPECT_LT(absl::Now() - begin, absl::Seconds(10));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_THAT(berthd_.Log(), Not(HasSubstr("ErrImagePull")));
  const json reported = Status("default.web");
  EXPECT_TRUE(reported.is_null() || reported.value("reason", "") != "ErrImagePull") << reported;
  const int64_t kept = PartialBytes(ingest);
  EXPECT_GT(kept, 0) << "what arrived is kept";

  (*proxy)->set_budget(-1);
  StartBerthd(flags);
  WaitRunning("default.web");
  EXPECT_THAT(berthd_.Log(), HasSubstr(absl::StrCat("resuming at byte ", kept)));
}

TEST_F(BerthdImagesE2eTest, NeverPolicyWithoutTheImageAndGarbageCollection) {
  StartBerthd(
      {"--image-gc-period=1s", "--image-gc-high-threshold=0", "--image-gc-low-threshold=0"});
  Write("never", Image("busybox"), "exec sleep 1000", "  imagePullPolicy: Never\n");
  WaitStatus("default.never",
             [](const json& s) { return s.value("reason", "") == "ErrImageNeverPull"; });
  Write("keep", Image("busybox"), "exec sleep 1000");
  Write("drop", Image("layers"), "exec sleep 1000");
  WaitRunning("default.keep");
  WaitRunning("default.drop");
  // Now present: the Never one runs too (after its back-off).
  WaitRunning("default.never");
  EXPECT_GE(Snapshots(), 5);
  ASSERT_EQ(unlink((manifests_ + "/drop.yaml").c_str()), 0);
  // With the threshold at 0 every GC pass collects: layers:1 goes (with the
  // snapshots only it has), busybox:1 stays.
  EXPECT_TRUE(WaitFor([&] { return Snapshots() == 1; }, kWait)) << Snapshots();
  // The pass logs what it removed once it is done; the snapshots go first.
  EXPECT_TRUE(WaitFor([&] { return berthd_.Log().find("image GC") != std::string::npos; }, kWait))
      << berthd_.Log();
  EXPECT_EQ(Status("default.keep")["phase"], "Running");
}

}  // namespace
}  // namespace berth
