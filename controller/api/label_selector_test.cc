#include "controller/api/label_selector.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string>;

bool Match(const std::string& selector, const Labels& labels) {
  absl::StatusOr<LabelSelector> s = LabelSelector::Parse(selector);
  EXPECT_TRUE(s.ok()) << selector << ": " << s.status();
  return s.ok() && s->Matches(labels);
}

TEST(LabelSelectorTest, EmptyMatchesEverything) {
  EXPECT_TRUE(Match("", {}));
  EXPECT_TRUE(Match("  ", {{"a", "b"}}));
}

TEST(LabelSelectorTest, EqualityAndInequality) {
  const Labels web = {{"app", "web"}, {"tier", "front"}};
  EXPECT_TRUE(Match("app=web", web));
  EXPECT_TRUE(Match("app==web", web));
  EXPECT_FALSE(Match("app=db", web));
  EXPECT_TRUE(Match("app!=db", web));
  EXPECT_FALSE(Match("app!=web", web));
  // != holds for an absent label, as in Kubernetes.
  EXPECT_TRUE(Match("env!=prod", web));
  EXPECT_TRUE(Match("app=web,tier=front", web));
  EXPECT_FALSE(Match("app=web,tier=back", web));
  EXPECT_TRUE(Match(" app = web , tier = front ", web));
  // An empty value matches only an empty label.
  EXPECT_TRUE(Match("e=", {{"e", ""}}));
  EXPECT_FALSE(Match("e=", {}));
}

TEST(LabelSelectorTest, SetsAndExistence) {
  const Labels web = {{"app", "web"}, {"example.com/team", "a"}};
  EXPECT_TRUE(Match("app in (web,db)", web));
  EXPECT_TRUE(Match("app in ( db , web )", web));
  EXPECT_FALSE(Match("app in (db)", web));
  EXPECT_TRUE(Match("app notin (db)", web));
  EXPECT_FALSE(Match("app notin (web, db)", web));
  EXPECT_TRUE(Match("env notin (prod)", web));
  EXPECT_FALSE(Match("env in (prod)", web));
  EXPECT_TRUE(Match("app", web));
  EXPECT_TRUE(Match("example.com/team", web));
  EXPECT_FALSE(Match("env", web));
  EXPECT_TRUE(Match("!env", web));
  EXPECT_FALSE(Match("!app", web));
  EXPECT_TRUE(Match("app,!env,app in (web),example.com/team=a", web));
  // "in" and "notin" are words: a key may start with them.
  EXPECT_TRUE(Match("inside", {{"inside", "x"}}));
  EXPECT_TRUE(Match("notinside=x", {{"notinside", "x"}}));
}

TEST(LabelSelectorTest, ParsesIntoRequirements) {
  absl::StatusOr<LabelSelector> s = LabelSelector::Parse("a=b,c!=d,e in (f,g),!h,i notin (j),k");
  ASSERT_TRUE(s.ok()) << s.status();
  using Op = LabelRequirement::Op;
  ASSERT_EQ(s->requirements().size(), 6u);
  EXPECT_EQ(s->requirements()[0].op, Op::kEquals);
  EXPECT_EQ(s->requirements()[1].op, Op::kNotEquals);
  EXPECT_EQ(s->requirements()[2].op, Op::kIn);
  EXPECT_EQ(s->requirements()[2].values, (std::set<std::string>{"f", "g"}));
  EXPECT_EQ(s->requirements()[3].op, Op::kDoesNotExist);
  EXPECT_EQ(s->requirements()[3].key, "h");
  EXPECT_EQ(s->requirements()[4].op, Op::kNotIn);
  EXPECT_EQ(s->requirements()[5].op, Op::kExists);
}

TEST(LabelSelectorTest, RefusesWhatKubectlRefuses) {
  for (const char* bad : {"a=b,", ",a", "=b", "a in b", "a in (b", "a in ()", "a>b", "a=b c", "!",
                          "a=-b-", "-a=b", "a=(b)", "a notin"}) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("unable to parse requirement")) << bad;
  }
}

}  // namespace
}  // namespace berth::api
