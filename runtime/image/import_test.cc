// Imports of OCI layouts and docker archives built with make-oci-image and skopeo
// (label e2e: runs those tools).
#include "runtime/image/import.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/image/digest.h"
#include "runtime/sys/process.h"
#include "tests/registry_env.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

using ::testing::HasSubstr;

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::BuildTestImages({"busybox", "multi", "layers"}).ok());
    auto store = ContentStore::Open(dir_.path() + "/store");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string Layout(const std::string& name) { return testing::TestImagesDir() + "/" + name; }

  absl::Status Sh(const std::string& script) {
    return runtime::RunCommandOk({"/bin/sh", "-c", script}, absl::Minutes(2));
  }

  void ExpectComplete(const ImageRecord& r) {
    for (const std::string& d : ReferencedDigests(r)) {
      ASSERT_TRUE(store_->Has(d)) << d;
      auto data = store_->ReadBlob(d, 64 << 20);
      ASSERT_TRUE(data.ok());
      EXPECT_EQ(DigestOf(*data), d);
    }
    EXPECT_EQ(r.layers.size(), r.config["rootfs"]["diff_ids"].size());
    EXPECT_EQ(store_->GetImage(r.reference)->manifest_digest, r.manifest_digest);
  }

  testing::TempDir dir_{"berth-import"};
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ImportTest, OciLayoutNeedsAReferenceForABareTag) {
  auto none = ImportImage(store_.get(), Layout("busybox"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("names no full image reference"));
  auto r = ImportImage(store_.get(), Layout("busybox"), {.reference = "example.com/busybox:1"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].reference, "example.com/busybox:1");
  ASSERT_EQ((*r)[0].layers.size(), 1u);
  ExpectComplete((*r)[0]);
}

TEST_F(ImportTest, OciLayoutWithAnIndexPicksThePlatform) {
  auto r = ImportImage(store_.get(), Layout("multi"), {.reference = "example.com/multi:1"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_NE((*r)[0].index_digest, "");
  EXPECT_EQ((*r)[0].config["architecture"], NodePlatform().architecture);
  ExpectComplete((*r)[0]);
}

TEST_F(ImportTest, CorruptedLayoutBlobIsRejected) {
  const std::string copy = dir_.path() + "/layout";
  ASSERT_TRUE(Sh(absl::StrCat("cp -a ", Layout("layers"), " ", copy)).ok());
  auto good = ImportImage(store_.get(), Layout("layers"), {.reference = "x.io/layers:1"});
  ASSERT_TRUE(good.ok()) << good.status();
  const std::string layer = (*good)[0].layers.back().digest;
  ASSERT_TRUE(runtime::RemoveTree(store_->root()).ok());
  auto store = ContentStore::Open(dir_.path() + "/store");
  ASSERT_TRUE(store.ok());
  store_ = std::move(*store);
  const std::string file = absl::StrCat(copy, "/blobs/sha256/", DigestHex(layer));
  auto data = runtime::ReadFile(file, 64 << 20);
  ASSERT_TRUE(data.ok());
  std::string bad = *data;
  bad[bad.size() / 2] ^= 1;
  ASSERT_TRUE(runtime::WriteFileAtomic(file, bad).ok());
  auto r = ImportImage(store_.get(), copy, {.reference = "x.io/layers:1"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("import image ", copy, ": blob ", layer,
                                     " digest mismatch: got ", DigestOf(bad))));
  EXPECT_FALSE(store_->Has(layer));
  EXPECT_EQ(store_->GetImage("x.io/layers:1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImportTest, DockerArchiveRegistersItsRepoTags) {
  const std::string tar = dir_.path() + "/layers.tar";
  ASSERT_TRUE(Sh(absl::StrCat("skopeo copy -q oci:", Layout("layers"), ":1 docker-archive:", tar,
                              ":team/layers:2"))
                  .ok());
  auto r = ImportImage(store_.get(), tar, {.reference = "example.com/extra:3"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].reference, "docker.io/team/layers:2");
  EXPECT_EQ((*r)[1].reference, "example.com/extra:3");
  ASSERT_EQ((*r)[0].layers.size(), 5u);
  for (const LayerDescriptor& l : (*r)[0].layers) {
    // docker save keeps layers uncompressed: each is its own diff.
    EXPECT_EQ(l.media_type, kOciLayer);
    EXPECT_EQ(l.digest, l.diff_id);
  }
  ExpectComplete((*r)[0]);
  ExpectComplete((*r)[1]);
}

TEST_F(ImportTest, DockerArchiveWithAlteredLayerIsRejected) {
  const std::string tar = dir_.path() + "/busybox.tar";
  const std::string bad = dir_.path() + "/busybox-bad.tar";
  ASSERT_TRUE(Sh(absl::StrCat("skopeo copy -q oci:", Layout("busybox"), ":1 docker-archive:", tar,
                              ":busybox:1"))
                  .ok());
  // Flip one byte in the middle of the (uncompressed) layer member.
  ASSERT_TRUE(Sh(absl::StrCat("python3 - ", tar, " ", bad, R"( <<'PY'
import json, sys, tarfile, io
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src) as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
layer = json.loads(dict((m.name, d) for m, d in members)["manifest.json"])[0]["Layers"][0]
with tarfile.open(dst, "w") as out:
    for m, d in members:
        if m.name == layer:
            d = bytearray(d); d[len(d) // 2] ^= 1; d = bytes(d)
        out.addfile(m, io.BytesIO(d) if d is not None else None)
PY)"))
                  .ok());
  auto r = ImportImage(store_.get(), bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("the config's diff_id is"));
  EXPECT_TRUE(store_->List()->empty());  // nothing of it stays
  EXPECT_EQ(store_->GetImage("docker.io/library/busybox:1").status().code(),
            absl::StatusCode::kNotFound);
  // The intact archive imports.
  auto good = ImportImage(store_.get(), tar);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ((*good)[0].reference, "docker.io/library/busybox:1");
}

TEST_F(ImportTest, OciArchiveImports) {
  const std::string tar = dir_.path() + "/busybox-oci.tar";
  ASSERT_TRUE(
      Sh(absl::StrCat("skopeo copy -q oci:", Layout("busybox"), ":1 oci-archive:", tar, ":1"))
          .ok());
  auto r = ImportImage(store_.get(), tar, {.reference = "example.com/bb:1"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  ExpectComplete((*r)[0]);
}

TEST_F(ImportTest, BerthImageTool) {
  const std::string tool = BERTH_IMAGE_TOOL;
  const std::string store = "--store=" + dir_.path() + "/tool-store";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {tool, store});
    auto r = runtime::RunCommand(args, absl::Minutes(1));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : runtime::CommandResult{};
  };
  auto imported = run({"import", Layout("busybox"), "localhost/bb:1"});
  EXPECT_EQ(imported.exit_code, 0) << imported.output;
  auto list = run({"list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.output, HasSubstr("localhost/bb:1"));
  EXPECT_EQ(run({"rm", "localhost/bb:1"}).exit_code, 0);
  auto again = run({"rm", "localhost/bb:1"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("get image localhost/bb:1: not in the store"));
  auto prune = run({"prune"});
  EXPECT_THAT(prune.output, HasSubstr("removed 0 images, 3 blobs"));
  EXPECT_THAT(run({"list"}).output, ::testing::Not(HasSubstr("localhost/bb:1")));
  EXPECT_EQ(run({"frobnicate"}).exit_code, 2);
}

TEST_F(ImportTest, BadSourcesAreClearErrors) {
  EXPECT_EQ(ImportImage(store_.get(), dir_.path() + "/missing").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(runtime::WriteFileAtomic(dir_.path() + "/junk.tar", "not a tar at all").ok());
  auto junk = ImportImage(store_.get(), dir_.path() + "/junk.tar", {.reference = "a.io/b:1"});
  EXPECT_FALSE(junk.ok());
  EXPECT_THAT(junk.status().message(), HasSubstr("import image " + dir_.path() + "/junk.tar"));
}

}  // namespace
}  // namespace berth::image
