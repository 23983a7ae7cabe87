#include "runtime/container_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime {
namespace {

using ::testing::HasSubstr;

ContainerSpec Valid() {
  ContainerSpec s;
  s.id = "web";
  s.rootfs_layers = {"/var/lib/berth/snapshots/2/fs", "/var/lib/berth/snapshots/1/fs"};
  s.args = {"/bin/sleep", "10"};
  s.env = {"A=1", "EMPTY="};
  s.mounts = {{MountSpec::Type::kBind, "/srv", "/data", true, 0},
              {MountSpec::Type::kTmpfs, "", "/scratch", false, 1 << 20}};
  s.labels = {{"app", "web"}};
  s.resources = {64 << 20, 500, 10};
  return s;
}

TEST(ContainerSpecTest, ValidSpecPasses) { EXPECT_TRUE(ValidateContainerSpec(Valid()).ok()); }

TEST(ContainerSpecTest, EachProblemIsNamed) {
  struct Case {
    const char* want;
    void (*mutate)(ContainerSpec&);
  };
  const Case cases[] = {
      {"container id", [](ContainerSpec& s) { s.id = "../x"; }},
      {"rootfs", [](ContainerSpec& s) { s.rootfs_layers.clear(); }},
      {"rootfs layer relative", [](ContainerSpec& s) { s.rootfs_layers[1] = "relative"; }},
      {"rootfs layer /a,b", [](ContainerSpec& s) { s.rootfs_layers[0] = "/a,b"; }},
      {"rootfs layer /a:b", [](ContainerSpec& s) { s.rootfs_layers[1] = "/a:b"; }},
      {"rootfs layer /a/../b", [](ContainerSpec& s) { s.rootfs_layers[0] = "/a/../b"; }},
      {"args", [](ContainerSpec& s) { s.args.clear(); }},
      {"env", [](ContainerSpec& s) { s.env = {"NOEQUALS"}; }},
      {"env", [](ContainerSpec& s) { s.env = {"=x"}; }},
      {"workingDir", [](ContainerSpec& s) { s.working_dir = "srv"; }},
      {"mount /data/../etc", [](ContainerSpec& s) { s.mounts[0].destination = "/data/../etc"; }},
      {"source", [](ContainerSpec& s) { s.mounts[0].source = "srv"; }},
      {"mount /", [](ContainerSpec& s) { s.mounts[0].destination = "/"; }},
      {"stopSignal", [](ContainerSpec& s) { s.stop_signal = 0; }},
      {"stopSignal", [](ContainerSpec& s) { s.stop_signal = 65; }},
      {"resources", [](ContainerSpec& s) { s.resources.pids = -1; }},
      {"resources.memory", [](ContainerSpec& s) { s.resources.memory_bytes = 100; }},
      {"log_max_files", [](ContainerSpec& s) { s.log_max_files = 0; }},
  };
  for (const Case& c : cases) {
    ContainerSpec s = Valid();
    c.mutate(s);
    absl::Status st = ValidateContainerSpec(s);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << c.want;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.want));
  }
}

}  // namespace
}  // namespace berth::runtime
