// The annotation codec: the keys and formats containers of earlier releases
// carry are read and written byte for byte.
#include "controller/spec/container_annotations.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using Map = std::map<std::string, std::string>;

TEST(ContainerAnnotationsTest, DecodesWhatEarlierReleasesWrote) {
  const Map written = {
      {"berth.dev/spec-hash", "00112233aabbccdd"},
      {"berth.dev/namespace", "default"},
      {"berth.dev/name", "web"},
      {"berth.dev/termination-grace-period-seconds", "7"},
      {"berth.dev/generation", "4"},
      {"berth.dev/restart-count", "2"},
      {"berth.dev/last-exit-code", "137"},
      {"berth.dev/last-exit-reason", "Error"},
      {"berth.dev/source-file", "/etc/berth/manifests/web.yaml"},
      {"berth.dev/source", "api"},
      {"berth.dev/image", "busybox:latest"},
      {"berth.dev/image-id", "sha256:0123"},
  };
  const ContainerAnnotations a = ContainerAnnotations::Decode(written);
  EXPECT_EQ(a.spec_hash, "00112233aabbccdd");
  EXPECT_EQ(a.namespace_, "default");
  EXPECT_EQ(a.name, "web");
  EXPECT_EQ(a.grace_period, absl::Seconds(7));
  EXPECT_EQ(a.generation, 4);
  EXPECT_EQ(a.RestartCount(), 2);
  EXPECT_EQ(a.last_exit_code, 137);
  EXPECT_EQ(a.last_exit_reason, "Error");
  EXPECT_EQ(a.source_file, "/etc/berth/manifests/web.yaml");
  EXPECT_EQ(a.source, "api");
  EXPECT_EQ(a.image, "busybox:latest");
  EXPECT_EQ(a.image_id, "sha256:0123");
  EXPECT_EQ(a.Encode(), written) << "round trip";
}

TEST(ContainerAnnotationsTest, AbsentAndMalformedReadAsDefaults) {
  ContainerAnnotations a = ContainerAnnotations::Decode({});
  EXPECT_EQ(a.spec_hash, "");
  EXPECT_EQ(a.grace_period, absl::Seconds(30));
  EXPECT_EQ(a.RestartCount(), 0);
  EXPECT_EQ(a.last_exit_code, std::nullopt);
  a = ContainerAnnotations::Decode({{"berth.dev/termination-grace-period-seconds", "x"},
                                    {"berth.dev/restart-count", "many"},
                                    {"berth.dev/last-exit-code", "?"}});
  EXPECT_EQ(a.grace_period, absl::Seconds(30));
  EXPECT_EQ(a.RestartCount(), 0);
  EXPECT_EQ(a.last_exit_code, 0) << "present but malformed: 0, as before";
}

TEST(ContainerAnnotationsTest, EncodesTheAlwaysPresentOnesAndOnlySetOthers) {
  ContainerAnnotations a;
  a.name = "web";
  EXPECT_EQ(a.Encode(), (Map{{"berth.dev/namespace", ""},
                             {"berth.dev/name", "web"},
                             {"berth.dev/termination-grace-period-seconds", "30"},
                             {"berth.dev/generation", "0"},
                             {"berth.dev/source-file", ""},
                             {"berth.dev/image", ""}}));
  a.restart_count = 0;
  Map into = {{"other", "kept"}};
  a.EncodeInto(&into);
  EXPECT_EQ(into.at("other"), "kept");
  EXPECT_EQ(into.at("berth.dev/restart-count"), "0");
  EXPECT_EQ(into.count("berth.dev/last-exit-code"), 0u);
}

TEST(ContainerAnnotationsTest, PreStopAsJson) {
  ContainerAnnotations a;
  Handler h;
  h.exec.emplace().command = {"sh", "-c", "echo bye"};
  a.pre_stop = h;
  const Map m = a.Encode();
  EXPECT_EQ(m.at("berth.dev/pre-stop"), R"({"exec":{"command":["sh","-c","echo bye"]}})");
  const ContainerAnnotations back = ContainerAnnotations::Decode(m);
  ASSERT_TRUE(back.pre_stop.has_value());
  EXPECT_EQ(back.pre_stop->exec->command, h.exec->command);
  EXPECT_EQ(ContainerAnnotations().Encode().count("berth.dev/pre-stop"), 0u) << "absent: none";
  EXPECT_FALSE(ContainerAnnotations::Decode({{"berth.dev/pre-stop", "{"}}).pre_stop.has_value());
}

}  // namespace
}  // namespace berth::controller
