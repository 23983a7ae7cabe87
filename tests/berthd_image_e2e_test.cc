// The berthd image (hack/build-image) end to end: built from this build,
// pushed to a real registry on 127.0.0.1, pulled by berthd and run with
// real runc. What is in it runs: berthd, berthctl, runc and iptables (found
// on the image's PATH, as the CNI plugins find it, with the backend of this
// machine's iptables) with their libraries, without a base image.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "tests/berthd_flags.h"
#include "tests/processes.h"
#include "tests/registry_env.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::OwnedProcess;
using ::berth::testing::RegistryEnv;
using ::berth::testing::TestWorld;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(90);

class BerthdImageE2eTest : public ::testing::Test {
 protected:
  void TearDown() override {
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << berthd_.Log();
  }

  std::string ContainerLog(const std::string& id) const {
    return runtime::ReadFile(world_.state_dir() + "/" + id + "/container.log").value_or("");
  }

  TestWorld world_;
  OwnedProcess berthd_;
};

TEST_F(BerthdImageE2eTest, BuiltPushedPulledAndRunByBerthd) {
  auto registry = RegistryEnv::Start();
  ASSERT_TRUE(registry.ok()) << registry.status();
  const std::string repo = (*registry)->host() + "/berth/berthd";
  absl::StatusOr<runtime::CommandResult> built = runtime::RunCommand(
      {BERTH_SOURCE_DIR "/hack/build-image", "--build-dir=" BERTH_BUILD_DIR, "--tag=test",
       "--push=" + repo, "--tls-verify=false", world_.dir() + "/layout"},
      absl::Minutes(3));
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_EQ(built->exit_code, 0) << built->output;

  // The image's config: berthd is the entrypoint (the chart gives `args`).
  absl::StatusOr<runtime::CommandResult> config =
      runtime::RunCommand({runtime::FindExecutable("skopeo"), "inspect", "--config",
                           "--tls-verify=false", "docker://" + repo + ":test"},
                          absl::Minutes(1));
  ASSERT_TRUE(config.ok() && config->exit_code == 0) << config->output;
  json c = json::parse(config->output);
  EXPECT_THAT(c["config"]["Entrypoint"].get<std::vector<std::string>>(),
              ElementsAre("/usr/bin/berthd"));
  EXPECT_EQ(c["config"]["Labels"]["org.opencontainers.image.version"], "0.2.0");

  const std::string manifests = world_.dir() + "/manifests";
  ASSERT_TRUE(runtime::MakeDirs(manifests).ok());
  auto write = [&](const std::string& name, const std::string& command) {
    ASSERT_TRUE(runtime::WriteFileAtomic(
                    manifests + "/" + name + ".yaml",
                    absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
                                 "metadata:\n  name: ",
                                 name, "\nspec:\n  image: ", repo, ":test\n  command: ", command,
                                 "\n  restartPolicy: Never\n"))
                    .ok());
  };
  write("berthd", R"(["/usr/bin/berthd", "--version"])");
  write("berthctl", R"(["/usr/bin/berthctl", "version", "--client"])");
  write("runc", R"(["/usr/sbin/runc", "--version"])");
  write("iptables", R"(["iptables", "--version"])");
  write("ip6tables", R"(["ip6tables", "--version"])");
  ASSERT_TRUE(
      berthd_
          .Start({BERTH_BERTHD_PATH, "--manifests-dir=" + manifests,
                  "--state-dir=" + world_.berth_state_dir(), "--run-dir=" + world_.run_dir(),
                  "--cgroup-parent=" + world_.cgroup_parent(), "--monitor=" BERTH_MONITOR_PATH,
                  "--insecure-registries=" + (*registry)->host(), "--metrics-addr=127.0.0.1:0",
                  berth::testing::NoCniFlag(world_)},
                 world_.dir() + "/berthd.log")
          .ok());
  for (const std::string name : {"berthd", "berthctl", "runc", "iptables", "ip6tables"}) {
    json status = berth::testing::WaitStatusFile(
        world_.berth_state_dir(), "default." + name,
        [](const json& s) { return s.value("phase", "") == "Succeeded"; }, kWait);
    EXPECT_EQ(status.value("phase", ""), "Succeeded") << name << ": " << status.dump();
  }
  EXPECT_THAT(ContainerLog("default.berthd"), HasSubstr("berthd 0.2.0 (commit "));
  EXPECT_THAT(ContainerLog("default.berthctl"), HasSubstr("Client Version: 0.2.0"));
  EXPECT_THAT(ContainerLog("default.runc"), HasSubstr("runc version "));
  // "iptables v1.8.9 (nf_tables)": the same version and backend as here.
  absl::StatusOr<runtime::CommandResult> machine =
      runtime::RunCommand({runtime::FindExecutable("iptables"), "--version"}, absl::Seconds(10));
  ASSERT_TRUE(machine.ok() && machine->exit_code == 0) << machine.status();
  EXPECT_THAT(ContainerLog("default.iptables"),
              HasSubstr(std::string(absl::StripAsciiWhitespace(machine->output))));
  EXPECT_THAT(ContainerLog("default.ip6tables"), HasSubstr("ip6tables v"));
}

}  // namespace
}  // namespace berth
