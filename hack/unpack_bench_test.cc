#include "hack/unpack_bench.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/snapshot/test_tar.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::bench {
namespace {

using snapshot::testing::Compression;
using snapshot::testing::Dir;
using snapshot::testing::File;

class UnpackBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    layout_ = dir_.path() + "/layout";
    const std::string blobs = layout_ + "/blobs/sha256";
    ASSERT_TRUE(runtime::MakeDirs(blobs).ok());
    layers_.push_back(snapshot::testing::WriteLayer(
        blobs, {Dir("etc"), File("etc/a", std::string(100000, 'a'))}, Compression::kGzip));
    layers_.push_back(snapshot::testing::WriteLayer(blobs, {File("etc/.wh.a", ""), File("b", "b")},
                                                    Compression::kZstd));
    nlohmann::json config = nlohmann::json::object(), manifest = nlohmann::json::object();
    config["rootfs"]["type"] = "layers";
    config["rootfs"]["diff_ids"] = nlohmann::json::array();
    manifest["schemaVersion"] = 2;
    manifest["layers"] = nlohmann::json::array();
    for (const auto& l : layers_) {
      config["rootfs"]["diff_ids"].push_back(l.diff_id);
      nlohmann::json d = nlohmann::json::object();
      d["mediaType"] = l.media_type;
      d["digest"] = l.digest;
      manifest["layers"].push_back(d);
    }
    manifest["config"]["digest"] = Put(config.dump());
    nlohmann::json entry = nlohmann::json::object();
    entry["digest"] = Put(manifest.dump());
    entry["annotations"]["org.opencontainers.image.ref.name"] = "v1";
    nlohmann::json index = nlohmann::json::object();
    index["manifests"] = nlohmann::json::array({entry});
    ASSERT_TRUE(runtime::WriteFileAtomic(layout_ + "/index.json", index.dump()).ok());
  }

  std::string Put(const std::string& content) {
    std::string digest = snapshot::testing::Sha256(content);
    EXPECT_TRUE(
        runtime::WriteFileAtomic(layout_ + "/blobs/sha256/" + digest.substr(7), content).ok());
    return digest;
  }

  testing::TempDir dir_{"berth-unpack-bench-test"};
  std::string layout_;
  std::vector<snapshot::LayerBlob> layers_;
};

TEST_F(UnpackBenchTest, ReadsAnOciLayoutAndMeasuresAllThreeMethods) {
  auto layers = LayersFromOciLayout(layout_, "v1");
  ASSERT_TRUE(layers.ok()) << layers.status();
  ASSERT_EQ(layers->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*layers)[i].diff_id, layers_[i].diff_id);
    EXPECT_EQ((*layers)[i].path, layers_[i].path);
    EXPECT_EQ((*layers)[i].media_type, layers_[i].media_type);
  }
  EXPECT_TRUE(absl::IsNotFound(LayersFromOciLayout(layout_, "v2").status()));

  auto r = BenchUnpack(*layers, dir_.path() + "/scratch", 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->layers, 2);
  EXPECT_GT(r->tar_bytes, 100000);
  EXPECT_LT(r->blob_bytes, r->tar_bytes);
  for (double s : {r->berth_compressed_s, r->berth_plain_s, r->tar_plain_s}) {
    EXPECT_TRUE(std::isfinite(s) && s > 0) << s;
  }
  EXPECT_GT(r->Ratio(), 0);
  // The scratch dir holds nothing afterwards.
  auto ls = runtime::RunCommand({"/bin/ls", "-A", dir_.path() + "/scratch"}, absl::Seconds(5));
  ASSERT_TRUE(ls.ok());
  EXPECT_EQ(ls->output, "");
}

TEST_F(UnpackBenchTest, BlobsGivenByPathGetTheirDiffIdsComputed) {
  auto layers = LayersFromBlobs({layers_[0].path, layers_[1].path}, dir_.path() + "/scratch");
  ASSERT_TRUE(layers.ok()) << layers.status();
  EXPECT_EQ((*layers)[0].diff_id, layers_[0].diff_id);
  EXPECT_EQ((*layers)[1].diff_id, layers_[1].diff_id);
}

TEST_F(UnpackBenchTest, WrongDiffIdIsDataLoss) {
  std::vector<snapshot::LayerBlob> bad = layers_;
  bad[1].diff_id = layers_[0].diff_id;
  EXPECT_TRUE(absl::IsDataLoss(BenchUnpack(bad, dir_.path() + "/scratch", 1).status()));
}

}  // namespace
}  // namespace berth::bench
