#include "controller/spec/heap_optional.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using Box = HeapOptional<std::vector<std::string>>;

TEST(HeapOptionalTest, EmptyByDefaultAndFromNullopt) {
  Box a;
  EXPECT_FALSE(a.has_value());
  EXPECT_FALSE(a);
  EXPECT_TRUE(a == std::nullopt);
  Box b = std::nullopt;
  EXPECT_FALSE(b.has_value());
  EXPECT_THROW(a.value(), std::bad_optional_access);
  EXPECT_EQ(sizeof(Box), sizeof(void*));
}

TEST(HeapOptionalTest, CopiesAreDeep) {
  Box a = std::vector<std::string>{"x", "y"};
  Box b = a;
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(&*a, &*b);
  b->push_back("z");
  EXPECT_EQ(a->size(), 2u);
  EXPECT_EQ(b->size(), 3u);
  a = b;
  EXPECT_EQ(a.value(), b.value());
  EXPECT_NE(&*a, &*b);
  const Box& same = a;
  a = same;  // self-assignment keeps the value
  EXPECT_EQ(a->size(), 3u);
  Box empty;
  a = empty;
  EXPECT_FALSE(a.has_value());
}

TEST(HeapOptionalTest, MovesLeaveTheSourceEmpty) {
  Box a = std::vector<std::string>{"x"};
  const std::string* inside = &(*a)[0];
  Box b = std::move(a);
  EXPECT_FALSE(a.has_value());  // NOLINT: checking the moved-from state
  EXPECT_EQ(&(*b)[0], inside);  // the value itself was not moved
  Box c;
  c = std::move(b);
  EXPECT_FALSE(b.has_value());  // NOLINT
  EXPECT_EQ(&(*c)[0], inside);
}

TEST(HeapOptionalTest, AssignEmplaceResetAndOptionals) {
  Box a;
  a = std::vector<std::string>{"one"};
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ((*a)[0], "one");
  a.emplace(2, "two");
  EXPECT_EQ(*a, (std::vector<std::string>{"two", "two"}));
  a = std::nullopt;
  EXPECT_TRUE(a == std::nullopt);
  std::optional<std::vector<std::string>> o = std::vector<std::string>{"o"};
  a = o;
  EXPECT_EQ((*a)[0], "o");
  a = std::optional<std::vector<std::string>>();
  EXPECT_FALSE(a.has_value());
  a.emplace();
  EXPECT_TRUE(a.has_value());
  EXPECT_TRUE(a->empty());
  a.reset();
  EXPECT_FALSE(a.has_value());
}

}  // namespace
}  // namespace berth::controller
