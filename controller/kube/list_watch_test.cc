#include "controller/kube/list_watch.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::kube {
namespace {

using ::testing::ElementsAre;

TEST(ListWatchTest, DecodesAnEvent) {
  absl::StatusOr<WatchEvent> e = DecodeWatchEvent(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n","resourceVersion":"7"}}})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, "ADDED");
  EXPECT_EQ(e->key, "n/a");
  EXPECT_EQ(e->resource_version, "7");
  EXPECT_EQ(e->code, 0);
}

TEST(ListWatchTest, ErrorEventsOfAnyShapeDecode) {
  absl::StatusOr<WatchEvent> gone =
      DecodeWatchEvent(R"({"type":"ERROR","object":{"code":410,"message":"too old"}})");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->code, 410);
  EXPECT_EQ(gone->message, "too old");
  // Fields of the wrong type once threw out of the watch callback (a string
  // code, a message object) or converted out of range (a float code).
  for (const char* line : {R"({"type":"ERROR","object":{"code":"410","message":{}}})",
                           R"({"type":"ERROR","object":{"code":1e300}})",
                           R"({"type":"ERROR","object":{"code":18446744073709551615}})"}) {
    absl::StatusOr<WatchEvent> e = DecodeWatchEvent(line);
    ASSERT_TRUE(e.ok()) << line;
    EXPECT_EQ(e->code, 0) << line;
    EXPECT_EQ(e->message, "") << line;
  }
}

TEST(ListWatchTest, RefusesWhatIsNotAnEvent) {
  for (const char* line : {"", "null", "[]", R"({"type":1,"object":{}})", R"({"type":"ADDED"})",
                           R"({"type":"ADDED","object":[]})", "{\"type\":"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeWatchEvent(line).status())) << line;
  }
}

TEST(ListWatchTest, DecodesAListPage) {
  absl::StatusOr<ListPage> page = DecodeListPage(nlohmann::json::parse(
      R"({"metadata":{"resourceVersion":"9","continue":"c"},
          "items":[{"metadata":{"name":"a"}},{"metadata":{}},{"metadata":{"name":"b","namespace":"n"}}]})"));
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<std::string> keys;
  for (const auto& [key, item] : page->items) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("a", "n/b"));
  EXPECT_EQ(page->resource_version, "9");
  EXPECT_EQ(page->continue_token, "c");
  EXPECT_TRUE(DecodeListPage(nlohmann::json::parse(R"({"items":null})")).ok());
}

TEST(ListWatchTest, RefusesAListWithMetadataOfTheWrongType) {
  // A number as resourceVersion once threw out of the informer's thread,
  // ending berthd.
  for (const char* body :
       {R"({"items":[],"metadata":{"resourceVersion":5}})",
        R"({"items":[],"metadata":{"continue":[]}})", R"({"items":{}})", R"([])"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(DecodeListPage(nlohmann::json::parse(body)).status()))
        << body;
  }
}

TEST(ListWatchTest, DeliverLinesKeepsTheUnterminatedRest) {
  std::string pending = "a\r\n\nb\nc";
  std::vector<std::string> lines;
  EXPECT_TRUE(DeliverLines(&pending, [&](absl::string_view l) {
    lines.emplace_back(l);
    return true;
  }));
  EXPECT_THAT(lines, ElementsAre("a", "b"));
  EXPECT_EQ(pending, "c");
  pending += "\nd\ne\n";
  lines.clear();
  EXPECT_FALSE(DeliverLines(&pending, [&](absl::string_view l) {
    lines.emplace_back(l);
    return l != "d";
  }));
  EXPECT_THAT(lines, ElementsAre("c", "d"));
  EXPECT_EQ(pending, "e\n");
}

TEST(ListWatchTest, ObjectKeyNeedsAName) {
  EXPECT_EQ(ObjectKey(nlohmann::json::parse(R"({"metadata":{"name":"","namespace":"n"}})")), "");
  EXPECT_EQ(ObjectKey(nlohmann::json::parse(R"({"metadata":{"name":"x","namespace":1}})")), "x");
  EXPECT_EQ(ResourceVersionOf(nlohmann::json::parse(R"({"metadata":{"resourceVersion":1}})")), "");
}

}  // namespace
}  // namespace berth::kube
