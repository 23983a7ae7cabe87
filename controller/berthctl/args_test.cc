#include "controller/berthctl/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::berthctl {
namespace {

using ::testing::ElementsAre;

const std::vector<FlagSpec> kSpecs = {{"output", 'o', true},
                                      {"interactive", 'i', false},
                                      {"tty", 't', false},
                                      {"filename", 'f', true, true},
                                      {"all-namespaces", 'A', false}};

TEST(ParseArgsTest, FlagsAnywhereAndTheirForms) {
  absl::StatusOr<Args> a = ParseArgs(
      {"web", "-o", "json", "--filename=a.yaml", "-fb.yaml", "-A", "db", "--output=yaml"}, kSpecs);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->positional, ElementsAre("web", "db"));
  EXPECT_EQ(a->Value("output"), "yaml");  // the last one wins
  EXPECT_THAT(a->Values("filename"), ElementsAre("a.yaml", "b.yaml"));
  EXPECT_TRUE(a->Has("all-namespaces"));
  EXPECT_FALSE(a->Has("tty"));
}

TEST(ParseArgsTest, GroupedShortBooleansAndTheRestAfterDashes) {
  absl::StatusOr<Args> a = ParseArgs({"-it", "web", "--", "sh", "-c", "echo -o"}, kSpecs);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->Has("interactive"));
  EXPECT_TRUE(a->Has("tty"));
  EXPECT_THAT(a->positional, ElementsAre("web"));
  EXPECT_TRUE(a->has_rest);
  EXPECT_THAT(a->rest, ElementsAre("sh", "-c", "echo -o"));
}

TEST(ParseArgsTest, ErrorsInKubectlsWords) {
  EXPECT_EQ(ParseArgs({"--nope"}, kSpecs).status().message(), "unknown flag: --nope");
  EXPECT_EQ(ParseArgs({"-x"}, kSpecs).status().message(), "unknown shorthand flag: 'x' in -x");
  EXPECT_EQ(ParseArgs({"--output"}, kSpecs).status().message(), "flag needs an argument: --output");
  EXPECT_EQ(ParseArgs({"-o"}, kSpecs).status().message(), "flag needs an argument: 'o' in -o");
}

}  // namespace
}  // namespace berth::berthctl
