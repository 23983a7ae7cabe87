#include "runtime/image/auth_config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

using ::testing::HasSubstr;

TEST(DockerAuthConfigTest, ParsesAuthAndUsernamePassword) {
  auto c = DockerAuthConfig::Parse(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "dXNlcjpwYTpzcw=="},
      "registry.example:5000": {"username": "bob", "password": "secret"},
      "http://127.0.0.1:5001/v2/": {"auth": "YWxpY2U6cHc="},
      "credsonly.example": {}
    },
    "credsStore": "desktop"
  })");
  ASSERT_TRUE(c.ok()) << c.status();
  auto hub = c->Lookup("docker.io");
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->username, "user");
  EXPECT_EQ(hub->password, "pa:ss");  // split at the first ':'
  EXPECT_EQ(c->Lookup("registry.example:5000")->username, "bob");
  EXPECT_EQ(c->Lookup("registry.example:5000")->password, "secret");
  EXPECT_EQ(c->Lookup("127.0.0.1:5001")->username, "alice");
  EXPECT_FALSE(c->Lookup("credsonly.example").has_value());
  EXPECT_FALSE(c->Lookup("registry.example").has_value());  // the port matters
}

// docker-credential-berthtest on PATH: records its argument and stdin, and
// answers by the server address it is asked about.
class CredentialHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string script = absl::StrCat(R"(#!/bin/sh
read -r server
echo "$1 $server" >> ')",
                                            dir_.path(), R"(/calls'
case "$server" in
  reg.example:5000) echo '{"ServerURL":"reg.example:5000","Username":"alice","Secret":"s3cret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hubuser","Secret":"hubpw"}' ;;
  token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh"}' ;;
  garbage.example) echo 'hello' ;;
  broken.example) echo 'keychain locked' >&2; exit 3 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
)");
    const std::string helper = dir_.path() + "/docker-credential-berthtest";
    ASSERT_TRUE(runtime::WriteFileAtomic(helper, script).ok());
    ASSERT_EQ(chmod(helper.c_str(), 0755), 0);
    const char* path = getenv("PATH");
    old_path_ = path != nullptr ? path : "";
    setenv("PATH", absl::StrCat(dir_.path(), ":", old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }

  std::string Calls() const { return runtime::ReadFile(dir_.path() + "/calls").value_or(""); }

  berth::testing::TempDir dir_;
  std::string old_path_;
};

TEST_F(CredentialHelperTest, CredHelpersComeFirstThenCredsStoreThenAuths) {
  auto c = DockerAuthConfig::Parse(R"({
    "auths": {"reg.example:5000": {"auth": "aW5saW5lOnB3"}, "plain.example": {"auth": "aW5saW5lOnB3"}},
    "credHelpers": {"reg.example:5000": "berthtest", "https://index.docker.io/v1/": "berthtest"}
  })");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->HelperFor("reg.example:5000"), "berthtest");
  EXPECT_EQ(c->HelperFor("plain.example"), "");
  auto reg = c->Find("reg.example:5000");
  ASSERT_TRUE(reg.ok()) << reg.status();
  ASSERT_TRUE(reg->has_value());
  EXPECT_EQ((*reg)->username, "alice");
  EXPECT_EQ((*reg)->password, "s3cret");
  auto hub = c->Find("docker.io");
  ASSERT_TRUE(hub.ok() && hub->has_value()) << hub.status();
  EXPECT_EQ((*hub)->username, "hubuser");
  auto plain = c->Find("plain.example");
  ASSERT_TRUE(plain.ok() && plain->has_value()) << plain.status();
  EXPECT_EQ((*plain)->username, "inline") << "no helper for it: auths";
  EXPECT_EQ(Calls(), "get reg.example:5000\nget https://index.docker.io/v1/\n");

  auto store = DockerAuthConfig::Parse(R"({"credsStore": "berthtest"})");
  ASSERT_TRUE(store.ok()) << store.status();
  auto none = store->Find("elsewhere.example");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value()) << "the helper has nothing for it: anonymous";
}

TEST_F(CredentialHelperTest, FailingHelpersAreNamedAndMissingOnesFallBackToAuths) {
  auto c = DockerAuthConfig::Parse(R"({"credsStore": "berthtest"})");
  ASSERT_TRUE(c.ok()) << c.status();
  auto broken = c->Find("broken.example");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(broken.status().message(),
              HasSubstr("credential helper docker-credential-berthtest for broken.example: exit "
                        "status 3: keychain locked"));
  auto garbage = c->Find("garbage.example");
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(garbage.status().message(), HasSubstr("got \"hello\""));
  auto token = c->Find("token.example");
  EXPECT_THAT(token.status().message(), HasSubstr("identity token"));

  auto missing = DockerAuthConfig::Parse(
      R"({"credsStore": "desktop", "auths": {"reg.example:5000": {"auth": "aW5saW5lOnB3"}}})");
  ASSERT_TRUE(missing.ok()) << missing.status();
  auto fallback = missing->Find("reg.example:5000");
  ASSERT_TRUE(fallback.ok() && fallback->has_value()) << fallback.status();
  EXPECT_EQ((*fallback)->username, "inline");
}

TEST(DockerAuthConfigTest, HelperNamesMustBeProgramNames) {
  for (const char* bad :
       {R"({"credsStore": "../../bin/sh"})", R"({"credsStore": "a b"})", R"({"credsStore": 3})",
        R"({"credHelpers": {"x": "/bin/sh"}})", R"({"credHelpers": ["x"]})"}) {
    EXPECT_EQ(DockerAuthConfig::Parse(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto empty = DockerAuthConfig::Parse(R"({"credsStore": ""})");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->HelperFor("x"), "");
}

TEST(DockerAuthConfigTest, HostKeysNormaliseLikeDocker) {
  EXPECT_EQ(AuthKeyForDomain("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(AuthKeyForDomain("quay.io"), "quay.io");
  EXPECT_EQ(DomainForAuthKey("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(DomainForAuthKey("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(DomainForAuthKey("docker.io"), "docker.io");
  EXPECT_EQ(DomainForAuthKey("https://quay.io"), "quay.io");
  EXPECT_EQ(DomainForAuthKey("localhost:5000/v2/"), "localhost:5000");
  auto c = DockerAuthConfig::Parse(R"({"auths": {"docker.io": {"auth": "YTpi"}}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Lookup("docker.io")->username, "a");
}

TEST(DockerAuthConfigTest, RejectsBadConfigs) {
  EXPECT_THAT(DockerAuthConfig::Parse("{").status().message(), HasSubstr("not a JSON object"));
  EXPECT_THAT(DockerAuthConfig::Parse(R"({"auths": {"x": {"auth": "!!!"}}})").status().message(),
              HasSubstr("bad base64"));
  EXPECT_THAT(
      DockerAuthConfig::Parse(R"({"auths": {"x": {"auth": "bm9jb2xvbg=="}}})").status().message(),
      HasSubstr("not user:password"));
  EXPECT_EQ(DockerAuthConfig::Parse(R"({"auths": 3})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DockerAuthConfig::Parse("{}")->empty());
  // A missing file is an empty config.
  auto missing = DockerAuthConfig::Load("/nonexistent/berth/config.json");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
}

TEST(AuthChallengeTest, ParsesBearerAndBasic) {
  auto c = ParseAuthChallenges(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].params.at("realm"), "https://auth.example/token");
  EXPECT_EQ((*c)[0].params.at("service"), "registry.example");
  EXPECT_EQ((*c)[0].params.at("scope"), "repository:a/b:pull,push");

  auto two = ParseAuthChallenges(
      R"(Basic realm="x y", Bearer Realm=http://t/token , error=insufficient_scope)");
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].scheme, "basic");
  EXPECT_EQ((*two)[0].params.at("realm"), "x y");
  EXPECT_EQ((*two)[1].scheme, "bearer");
  EXPECT_EQ((*two)[1].params.at("realm"), "http://t/token");
  EXPECT_EQ((*two)[1].params.at("error"), "insufficient_scope");

  auto escaped = ParseAuthChallenges(R"(Basic realm="a\"b")");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ((*escaped)[0].params.at("realm"), "a\"b");
}

TEST(AuthChallengeTest, RejectsMalformed) {
  EXPECT_FALSE(ParseAuthChallenges("").ok());
  EXPECT_FALSE(ParseAuthChallenges(R"(Bearer realm="unterminated)").ok());
  EXPECT_FALSE(ParseAuthChallenges(" , ").ok());
}

}  // namespace
}  // namespace berth::image
