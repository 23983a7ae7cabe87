#include "controller/spec/legacy_spec_hash.h"

#include <string>
#include <vector>

#include "controller/spec/spec_parser.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::controller {
namespace {

// The objects of one manifest file, in order.
std::vector<NodeContainer> Load(const std::string& path) {
  absl::StatusOr<std::string> content = runtime::ReadFile(path);
  EXPECT_TRUE(content.ok()) << content.status();
  if (!content.ok()) return {};
  ParseResult r = ParseManifests(*content, path);
  EXPECT_TRUE(r.errors.empty()) << path << ": " << r.errors.front().ToString();
  return r.objects;
}

// Objects the manifests do not show: edge cases of the JSON form.
std::vector<NodeContainer> HandMade() {
  std::vector<NodeContainer> out;
  NodeContainer o;
  o.metadata.name = "args-only";
  o.spec.image = "registry.example:5000/team/app@sha256:0123456789abcdef";
  o.spec.args = {"--quote=\"x\"", "back\\slash", "tab\there", "caf\xc3\xa9", ""};
  o.spec.env = {{"A", "1"}, {"B", "2"}, {"A", "3"}};
  o.spec.run_as_group = 7;
  out.push_back(o);
  o = NodeContainer();
  o.metadata.namespace_ = "kube-system";
  o.metadata.name = std::string(70, 'n') + ".with.dots";
  o.spec.image = "busybox:1.36";
  o.spec.command = {"sleep"};
  o.spec.args = {"1"};
  o.spec.run_as_user = 0;
  o.spec.working_dir = "/";
  o.spec.mounts = {{"/t", std::nullopt, std::nullopt, false},
                   {"/z", std::nullopt, int64_t{0}, true},
                   {"/h", std::string("/var/x"), std::nullopt, false}};
  o.spec.stop_signal = 9;
  out.push_back(o);
  return out;
}

TEST(LegacySpecHashTest, RecognisesTheLegacyForm) {
  EXPECT_TRUE(IsLegacySpecHash("0123456789abcdef"));
  EXPECT_FALSE(IsLegacySpecHash("0123456789ABCDEF"));
  EXPECT_FALSE(IsLegacySpecHash("0123456789abcde"));
  EXPECT_FALSE(IsLegacySpecHash("0123456789abcdef0"));
  EXPECT_FALSE(IsLegacySpecHash("v2:0123456789abcdef"));
  EXPECT_FALSE(IsLegacySpecHash(""));
}

// The values Berth v0.1.0 (commit 4a10ab6) computed for these objects, taken
// from that build: containers it made carry them.
TEST(LegacySpecHashTest, GoldenValuesOfTheRelease) {
  std::vector<NodeContainer> objects;
  for (const char* f :
       {"manifests/examples/sleeper.yaml", "manifests/examples/ticker.yaml",
        "manifests/examples/web.yaml", "controller/testdata/good/full.yaml",
        "controller/testdata/good/minimal.yaml", "controller/testdata/good/multi.yaml"}) {
    for (NodeContainer& o : Load(std::string(BERTH_SOURCE_DIR) + "/" + f)) {
      o.source = f;
      objects.push_back(std::move(o));
    }
  }
  for (NodeContainer& o : HandMade()) objects.push_back(std::move(o));
  const std::vector<std::string> want = {
      "fff84355b2f295ee",  // sleeper.yaml
      "ea970392232a9762",  // ticker.yaml
      "7603d8c6a799022d",  // web.yaml
      "6dce6eea6fe64167",  // full.yaml
      "e0acec282a07260a",  // minimal.yaml
      "2ad6a9e32818a9b6",  // multi.yaml: one
      "ee9b5d1404fe1893",  // multi.yaml: two
      "392c2ba5c92bdd7b",  // multi.yaml: three
      "77ae126e2efddbc2",  // args only, escapes, a repeated env name
      "e33008cefdfb646c",  // a mapped id, mounts without sizes, user 0
  };
  ASSERT_EQ(objects.size(), want.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    EXPECT_EQ(LegacySpecHash(objects[i]), want[i])
        << objects[i].source << " " << objects[i].metadata.name;
  }
}

}  // namespace
}  // namespace berth::controller
