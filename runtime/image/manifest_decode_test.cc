#include "runtime/image/manifest_decode.h"

#include <string>

#include "gtest/gtest.h"

namespace berth::image {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

std::string DescriptorJson(const std::string& media_type) {
  return R"({"mediaType":")" + media_type + R"(","digest":")" + kDigest + R"(","size":3})";
}

TEST(ManifestDecodeTest, DecodesAnIndex) {
  absl::StatusOr<std::vector<Descriptor>> index = DecodeIndex(
      R"({"manifests":[{"mediaType":"m","digest":")" + kDigest +
          R"(","size":5,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]})",
      "sha256:i");
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ((*index)[0].platform.variant, "v7");
  EXPECT_EQ(DecodeIndex("[]", "sha256:i").status().message(),
            "index sha256:i has no manifests list");
  EXPECT_TRUE(absl::IsInvalidArgument(
      DecodeIndex(R"({"manifests":[{"digest":"sha256:x"}]})", "sha256:i").status()));
}

TEST(ManifestDecodeTest, DecodesAManifest) {
  absl::StatusOr<ImageManifest> m =
      DecodeManifest(R"({"config":)" + DescriptorJson(kOciConfig) + R"(,"layers":[)" +
                         DescriptorJson(kOciLayerGzip) + "]}",
                     "sha256:m");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(DecodeManifest(R"({"config":{}})", "sha256:m").status().message(),
            "manifest sha256:m lacks config or layers");
  absl::Status foreign = DecodeManifest(R"({"config":)" + DescriptorJson(kOciConfig) +
                                            R"(,"layers":[)" + DescriptorJson("text/plain") + "]}",
                                        "sha256:m")
                             .status();
  EXPECT_TRUE(absl::IsInvalidArgument(foreign));
  EXPECT_NE(foreign.message().find("unsupported media type \"text/plain\""), std::string::npos);
}

TEST(ManifestDecodeTest, DecodesAConfig) {
  const std::string config =
      R"({"architecture":"amd64","rootfs":{"type":"layers","diff_ids":[")" + kDigest + R"("]}})";
  absl::StatusOr<ImageConfig> c = DecodeConfig(config, "sha256:c", 1);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->diff_ids, std::vector<std::string>{kDigest});
  EXPECT_EQ(DecodeConfig(config, "sha256:c", 2).status().message(),
            "config sha256:c lists 1 rootfs.diff_ids for 2 layers");
  EXPECT_TRUE(absl::IsDataLoss(
      DecodeConfig(R"({"rootfs":{"diff_ids":["sha256:x"]}})", "sha256:c", 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeConfig("[]", "sha256:c", 0).status()));
  // Once an exception out of the pull (architecture read as a string).
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecodeConfig(R"({"architecture":5})", "sha256:c", 0).status()));
  EXPECT_TRUE(DecodeConfig("{}", "sha256:c", 0).ok());
}

// Image records are the store's own files, read back with the same care:
// a float where an integer belongs was once converted out of range
// (undefined behaviour; found by image_record_fuzz).
TEST(ImageRecordTest, RefusesNumbersThatAreNotInt64) {
  const std::string layer = R"({"digest":"d","mediaType":"m","diffID":"i","size":)";
  const std::string record =
      R"({"reference":"r","manifestDigest":"m","configDigest":"c","config":{},"layers":[)";
  EXPECT_TRUE(ImageRecordFromJson(nlohmann::json::parse(record + layer + "3}]}")).ok());
  for (const std::string& bad :
       {record + layer + "3.5}]}", record + layer + "18446744073709551615}]}",
        record + layer + "3}],\"created\":1.733e20}"}) {
    EXPECT_TRUE(absl::IsDataLoss(ImageRecordFromJson(nlohmann::json::parse(bad)).status())) << bad;
  }
}

}  // namespace
}  // namespace berth::image
