#include "runtime/names.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime {
namespace {

using ::testing::HasSubstr;

TEST(NamesTest, AcceptsDnsSubdomains) {
  for (const char* ok : {"a", "web", "web-1", "a.b.c", "0abc", "x9", "default.web"}) {
    EXPECT_TRUE(ValidateDnsSubdomain("name", ok).ok()) << ok;
    EXPECT_TRUE(ValidateContainerId(ok).ok()) << ok;
  }
}

TEST(NamesTest, RejectsWhatCouldEscapeAPath) {
  for (const char* bad : {"", ".", "..", "../x", "a/b", "/abs", "a..b", ".a", "a.", "-a", "a-",
                          "UPPER", "a_b", "a b", "a\nb"}) {
    absl::Status s = ValidateContainerId(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr("container id"));
  }
  EXPECT_FALSE(ValidateContainerId(absl::string_view("a\0b", 3)).ok());
}

TEST(NamesTest, LengthLimits) {
  EXPECT_TRUE(ValidateDnsLabel("namespace", std::string(63, 'a')).ok());
  EXPECT_FALSE(ValidateDnsLabel("namespace", std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateDnsLabel("namespace", "a.b").ok());
  EXPECT_TRUE(ValidateContainerId(std::string(63, 'a') + "." + std::string(62, 'b') + ".c").ok());
  EXPECT_FALSE(ValidateContainerId(std::string(129, 'a')).ok());
  std::string long_name;
  for (int i = 0; i < 40; ++i) long_name += "abcdefg.";
  long_name += "x";
  EXPECT_FALSE(ValidateDnsSubdomain("name", long_name).ok());
}

// As the API server's IsDNS1123Subdomain: 253 characters, no per-part
// limit. Container ids keep DNS labels of at most 63.
TEST(NamesTest, SubdomainPartsMayBeLongerThanALabel) {
  const std::string long_part = "a" + std::string(98, 'b') + "c";  // 100 characters
  EXPECT_TRUE(ValidateDnsSubdomain("name", long_part).ok());
  EXPECT_TRUE(ValidateDnsSubdomain("name", "x." + long_part + ".y").ok());
  const std::string longest = std::string(125, 'a') + "." + std::string(127, 'b');  // 253
  EXPECT_TRUE(ValidateDnsSubdomain("name", longest).ok());
  EXPECT_FALSE(ValidateDnsSubdomain("name", longest + "b").ok());
  EXPECT_FALSE(ValidateDnsSubdomain("name", long_part + "-").ok());
  EXPECT_FALSE(ValidateDnsSubdomain("name", "A" + long_part).ok());

  absl::Status s = ValidateContainerId("ns." + long_part);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("label longer than 63 characters"));
  EXPECT_FALSE(ValidateContainerId(std::string(64, 'a')).ok());
  EXPECT_TRUE(ValidateContainerId(std::string(63, 'a')).ok());
}

TEST(NamesTest, MessageShowsEscapedValue) {
  absl::Status s = ValidateDnsSubdomain("name", "bad\x01name");
  EXPECT_THAT(std::string(s.message()), HasSubstr("\\x01"));
}

}  // namespace
}  // namespace berth::runtime
