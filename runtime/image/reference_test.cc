#include "runtime/image/reference.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::image {
namespace {

using ::testing::HasSubstr;

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Good {
  std::string in, domain, path, tag, digest, string;
};

TEST(ParseReferenceTest, Normalises) {
  const Good cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "",
       "docker.io/library/busybox:1.36"},
      {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest"},
      {"docker.io/user/app:v1", "docker.io", "user/app", "v1", "", "docker.io/user/app:v1"},
      {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"registry.example:5000/team/app:1.2", "registry.example:5000", "team/app", "1.2", "",
       "registry.example:5000/team/app:1.2"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      {"localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", "",
       "localhost:5000/a/b/c:latest"},
      {"127.0.0.1:34567/busybox:1", "127.0.0.1:34567", "busybox", "1", "",
       "127.0.0.1:34567/busybox:1"},
      {"Registry.Example/app", "Registry.Example", "app", "latest", "",
       "Registry.Example/app:latest"},
      {"busybox@sha256:" + kHex, "docker.io", "library/busybox", "", "sha256:" + kHex,
       "docker.io/library/busybox@sha256:" + kHex},
      {"busybox:1@sha256:" + kHex, "docker.io", "library/busybox", "1", "sha256:" + kHex,
       "docker.io/library/busybox:1@sha256:" + kHex},
      {"a.b/c_d/e__f/g-h/i--j/k.l:T_a.g-1", "a.b", "c_d/e__f/g-h/i--j/k.l", "T_a.g-1", "",
       "a.b/c_d/e__f/g-h/i--j/k.l:T_a.g-1"},
  };
  for (const Good& c : cases) {
    absl::StatusOr<Reference> r = ParseReference(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status();
    EXPECT_EQ(r->domain, c.domain) << c.in;
    EXPECT_EQ(r->path, c.path) << c.in;
    EXPECT_EQ(r->tag, c.tag) << c.in;
    EXPECT_EQ(r->digest, c.digest) << c.in;
    EXPECT_EQ(r->String(), c.string) << c.in;
    EXPECT_EQ(r->Name(), c.domain + "/" + c.path) << c.in;
    // Normalised strings parse to themselves.
    absl::StatusOr<Reference> again = ParseReference(r->String());
    ASSERT_TRUE(again.ok()) << r->String();
    EXPECT_EQ(*again, *r);
  }
}

TEST(ParseReferenceTest, TagOrDigestPrefersDigest) {
  EXPECT_EQ(ParseReference("busybox:1")->TagOrDigest(), "1");
  EXPECT_EQ(ParseReference("busybox:1@sha256:" + kHex)->TagOrDigest(), "sha256:" + kHex);
}

TEST(ParseReferenceTest, RejectsBadReferences) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty"},
      {"Busybox", "must be lowercase"},
      {"user/App", "must be lowercase"},
      {"busybox:", "empty tag"},
      {"busybox:-bad", "invalid tag"},
      {"busybox:" + std::string(129, 'a'), "invalid tag"},
      {"busybox:a/b", "invalid registry host"},  // a ':' before '/' is a host port
      {"busybox@sha256:abc", "64 lowercase hex"},
      {"busybox@sha256:" + std::string(64, 'G'), "64 lowercase hex"},
      {"busybox@md5:" + kHex, "unsupported algorithm"},
      {"busybox@" + kHex, "want <algorithm>:<hex>"},
      {"a//b", "empty path component"},
      {"a/b/", "empty path component"},
      {"-a/b", "invalid path component"},
      {"a/b_-c", "invalid path component"},
      {"a/b___c", "invalid path component"},
      {"a/b.", "invalid path component"},
      {"localhost/", "empty repository name"},
      {"https://registry.example/app", "no URL scheme"},
      {"bad_host.example/app", "invalid registry host"},
      {"example.com:port/app", "invalid registry host"},
      {kHex, "64-byte hex"},
      {"example.com/" + std::string(250, 'a'), "longer than 255"},
  };
  for (const auto& [in, want] : cases) {
    absl::StatusOr<Reference> r = ParseReference(in);
    ASSERT_FALSE(r.ok()) << in << " parsed as " << r->String();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << in;
    EXPECT_THAT(r.status().message(), HasSubstr(want)) << in;
    EXPECT_THAT(r.status().message(), HasSubstr("parse image reference")) << in;
  }
}

TEST(DigestTest, Validates) {
  EXPECT_TRUE(IsValidDigest("sha256:" + kHex));
  EXPECT_FALSE(IsValidDigest("sha256:" + kHex.substr(1)));
  EXPECT_FALSE(IsValidDigest("sha512:" + kHex));
  EXPECT_FALSE(IsValidDigest(""));
}

}  // namespace
}  // namespace berth::image
