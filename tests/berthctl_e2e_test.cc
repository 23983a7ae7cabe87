// berthctl and berthd's local API end to end: the socket, who may use it,
// and `berthctl version`. (The other verbs have test files of their own on
// the same fixture.)
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "tests/berthctl_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

TEST_F(BerthctlE2eTest, VersionNamesBothEnds) {
  StartBerthd();
  runtime::CommandResult r = Berthctl({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Client Version: 0.2.0"));
  EXPECT_THAT(r.output, HasSubstr("Server Version: 0.2.0"));
  EXPECT_THAT(r.output, HasSubstr("API berth.v1"));
  EXPECT_THAT(r.output, HasSubstr("standalone"));

  r = Berthctl({"version", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["serverVersion"]["apiVersion"], "berth.v1");
  EXPECT_EQ(j["serverVersion"]["mode"], "standalone");
  EXPECT_FALSE(j["serverVersion"]["runcVersion"].get<std::string>().empty());
}

TEST_F(BerthctlE2eTest, TheSocketIsRootsAloneByDefault) {
  StartBerthd();
  struct stat st {};
  ASSERT_EQ(stat(socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  runtime::CommandResult r = BerthctlAs(kNobody, kNogroup, {"version"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot reach berthd"));
  EXPECT_THAT(r.output, HasSubstr("Permission denied"));
}

TEST_F(BerthctlE2eTest, TheSocketsGroupMayReadOthersMayNotConnect) {
  // The run directory is berthd's (0700 when it makes it): with a group it
  // becomes searchable so that the group reaches the socket.
  StartBerthd({"--api-group=" + std::to_string(kNogroup)});
  struct stat st {};
  ASSERT_EQ(stat(socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kNogroup);
  runtime::CommandResult r = BerthctlAs(kNobody, kNogroup, {"version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Server Version: 0.2.0"));
  r = BerthctlAs(kNobody, 65000, {"version"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Permission denied"));
}

TEST_F(BerthctlE2eTest, AStaleSocketIsReplacedAndStopRemovesIt) {
  ASSERT_TRUE(runtime::MakeDirs(world_.run_dir()).ok());
  { std::ofstream(socket()) << "left by a berthd that was killed"; }
  StartBerthd();
  EXPECT_EQ(Berthctl({"version"}).exit_code, 0);
  EXPECT_EQ(berthd_.Stop(SIGTERM), 0);
  EXPECT_NE(access(socket().c_str(), F_OK), 0) << "the socket outlived berthd";
  runtime::CommandResult r = Berthctl({"version"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("Client Version: 0.2.0"));
  EXPECT_THAT(r.output, HasSubstr("error: cannot reach berthd at " + socket()));
}

TEST_F(BerthctlE2eTest, UsageErrorsAsKubectlGivesThem) {
  runtime::CommandResult r = Berthctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("error: unknown command \"frobnicate\" for \"berthctl\""));
  r = Berthctl({"version", "--nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("error: unknown flag: --nope"));
  r = Berthctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("version"));
}

}  // namespace
}  // namespace berth::testing
