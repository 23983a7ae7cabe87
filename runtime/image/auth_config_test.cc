#include "runtime/image/auth_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

  auto two = ParseAuthChallenges(R"(Basic realm="x y", Bearer Realm=http://t/token , error=insufficient_scope)");
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
