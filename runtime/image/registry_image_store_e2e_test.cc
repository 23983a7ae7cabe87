// The registry image store against a real registry on 127.0.0.1 (Debian's
// docker-registry): image garbage collection in least-recently-used order
// down to the low mark. The disk's fullness is the one thing faked: it
// follows the number of images in the store.
#include "runtime/image/registry_image_store.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/image/reference.h"
#include "tests/registry_env.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

using ::berth::testing::RegistryEnv;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class RegistryImageStoreE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = RegistryEnv::Start();
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    ASSERT_TRUE(registry_->PushTestImages({"busybox", "layers", "zstd"}).ok());
    RegistryImageStoreOptions o;
    o.root = dir_.path();
    o.registry.insecure_registries.insert(registry_->host());
    o.gc_high_percent = 85;
    o.gc_low_percent = 80;
    // 50% plus 15 points an image: 3 images are 95%, 2 are 80%, 1 is 65%.
    o.disk_used_percent = [this](const std::string&) {
      return 50 + 15 * static_cast<int>(store_->List().size());
    };
    auto store = RegistryImageStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string Ref(const std::string& name) const { return registry_->host() + "/" + name + ":1"; }
  std::string Normal(const std::string& name) const {
    return image::ParseReference(Ref(name))->String();
  }

  void Use(const std::string& name) {
    auto image = store_->Resolve(Ref(name), ImagePullPolicy::kIfNotPresent, {});
    ASSERT_TRUE(image.ok()) << image.status();
    absl::SleepFor(absl::Milliseconds(5));  // distinct times of use
  }

  TempDir dir_;
  std::unique_ptr<RegistryEnv> registry_;
  std::unique_ptr<RegistryImageStore> store_;
};

TEST_F(RegistryImageStoreE2eTest, RemovesLeastRecentlyUsedFirstDownToTheLowMark) {
  Use("busybox");
  Use("layers");
  Use("zstd");
  Use("busybox");  // used again: now the most recent

  auto report = store_->CollectGarbage([] { return std::set<std::string>(); }, false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->collected);
  // 95% -> layers gone, 80% (not below the low mark) -> zstd gone, 65%.
  EXPECT_THAT(report->removed_images, ElementsAre(Normal("layers"), Normal("zstd")));
  EXPECT_EQ(report->disk_used_percent, 65);
  EXPECT_GT(report->removed_blobs, 0);
  EXPECT_GT(report->removed_snapshots, 0) << "layers:1 has layers of its own";
  EXPECT_THAT(store_->List(), ElementsAre(Normal("busybox")));
  auto kept = store_->Resolve(Ref("busybox"), ImagePullPolicy::kNever, {});
  EXPECT_TRUE(kept.ok()) << kept.status() << ": its blobs and layer are intact";

  // Below the high mark nothing is looked at.
  report = store_->CollectGarbage([] { return std::set<std::string>(); }, false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->collected);
  EXPECT_THAT(report->removed_images, IsEmpty());
}

TEST_F(RegistryImageStoreE2eTest, ImagesInUseStayWhateverTheirAge) {
  Use("busybox");  // the oldest, but a container uses it
  Use("layers");
  Use("zstd");
  auto report = store_->CollectGarbage(
      [this] {
        return std::set<std::string>{Ref("busybox"), "not a reference"};
      },
      false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed_images, ElementsAre(Normal("layers"), Normal("zstd")));
  EXPECT_THAT(store_->List(), ElementsAre(Normal("busybox")));
}

TEST_F(RegistryImageStoreE2eTest, ForcedCollectionRemovesEveryUnusedImage) {
  Use("busybox");
  Use("layers");
  Use("zstd");
  auto report = store_->CollectGarbage([this] { return std::set<std::string>{Ref("zstd")}; }, true);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->removed_images, UnorderedElementsAre(Normal("busybox"), Normal("layers")));
  EXPECT_THAT(store_->List(), ElementsAre(Normal("zstd")));
}

}  // namespace
}  // namespace berth::image
