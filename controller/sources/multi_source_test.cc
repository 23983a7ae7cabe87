#include "controller/sources/multi_source.h"

#include <map>

#include "controller/spec/container_annotations.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using ::testing::ElementsAre;

class MapSource : public Source {
 public:
  explicit MapSource(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::vector<std::string> Ids() const override {
    std::vector<std::string> ids;
    for (const auto& [id, o] : objects) ids.push_back(id);
    return ids;
  }
  std::optional<NodeContainer> Get(const std::string& id) const override {
    auto it = objects.find(id);
    if (it == objects.end()) return std::nullopt;
    return it->second;
  }
  bool MayRemove(const runtime::ContainerStatus&) const override { return may_remove; }
  void Watch(Handler* h) override { handler = h; }
  void Resync() override { ++resyncs; }

  void Add(const std::string& name, const std::string& image) {
    NodeContainer o;
    o.metadata.name = name;
    o.spec.image = image;
    objects[ContainerIdFor(o.metadata)] = o;
  }
  std::map<std::string, NodeContainer> objects;
  bool may_remove = true;
  Handler* handler = nullptr;
  int resyncs = 0;

 private:
  std::string name_;
};

runtime::ContainerStatus ContainerFrom(const std::string& source) {
  runtime::ContainerStatus c;
  c.id = "default.x";
  if (!source.empty()) c.annotations[kSourceAnnotation] = source;
  return c;
}

TEST(MultiSourceTest, UnionWithFirstSourceWinningAConflict) {
  MapSource files("manifests"), api("api");
  files.Add("a", "one");
  files.Add("both", "from-files");
  api.Add("both", "from-api");
  api.Add("b", "two");
  MultiSource multi({&files, &api});
  EXPECT_EQ(multi.Name(), "manifests+api");
  EXPECT_THAT(multi.Ids(), ElementsAre("default.a", "default.b", "default.both"));
  std::optional<NodeContainer> both = multi.Get("default.both");
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->spec.image, "from-files");
  EXPECT_EQ(both->origin, "manifests");
  EXPECT_EQ(multi.Get("default.b")->origin, "api");
  EXPECT_FALSE(multi.Get("default.c").has_value());
  auto conflicts = multi.Conflicts();
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_THAT(conflicts["default.both"], ElementsAre("manifests", "api"));
}

TEST(MultiSourceTest, MayRemoveAsksTheContainersOwnSource) {
  MapSource files("manifests"), api("api");
  MultiSource multi({&files, &api});
  api.may_remove = false;  // not synced yet
  EXPECT_FALSE(multi.MayRemove(ContainerFrom("api")));
  EXPECT_TRUE(multi.MayRemove(ContainerFrom("manifests")));
  EXPECT_TRUE(multi.MayRemove(ContainerFrom(""))) << "no annotation: the manifests";
  files.may_remove = false;
  EXPECT_FALSE(multi.MayRemove(ContainerFrom("")));
  EXPECT_TRUE(multi.MayRemove(ContainerFrom("gone"))) << "a source no longer configured";
  MultiSource files_only({&files});
  EXPECT_TRUE(files_only.MayRemove(ContainerFrom("api")));
}

class NullHandler : public Source::Handler {
 public:
  void OnChange(const std::string&) override {}
  void OnResync() override {}
};

TEST(MultiSourceTest, WatchAndResyncFanOutToEverySource) {
  MapSource files("manifests"), api("api");
  MultiSource multi({&files, &api});
  NullHandler handler;
  multi.Watch(&handler);
  EXPECT_EQ(files.handler, &handler);
  EXPECT_EQ(api.handler, &handler);
  multi.Resync();
  EXPECT_EQ(files.resyncs, 1);
  EXPECT_EQ(api.resyncs, 1);
}

}  // namespace
}  // namespace berth::controller
