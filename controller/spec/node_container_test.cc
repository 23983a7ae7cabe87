#include "controller/spec/node_container.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/names.h"

namespace berth::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

ObjectMeta Meta(const std::string& ns, const std::string& name) {
  ObjectMeta m;
  m.namespace_ = ns;
  m.name = name;
  return m;
}

// Ids that were valid before long names were mapped stay what they were:
// existing containers keep theirs across an upgrade.
TEST(ContainerIdForTest, NamesThatFitKeepNamespaceDotName) {
  EXPECT_EQ(ContainerIdFor(Meta("default", "web")), "default.web");
  EXPECT_EQ(ContainerIdFor(Meta("kube-system", "a.b.c")), "kube-system.a.b.c");
  EXPECT_EQ(ContainerIdFor(Meta("ns", std::string(63, 'a'))), "ns." + std::string(63, 'a'));
  // Exactly 128 characters, every part at most 63.
  const std::string fits = std::string(63, 'a') + "." + std::string(62, 'b') + ".c";
  ASSERT_EQ(fits.size(), 128u);
  const std::string id = ContainerIdFor(Meta(fits.substr(0, 63), fits.substr(64)));
  EXPECT_EQ(id, fits);
  EXPECT_FALSE(IsMappedContainerId(Meta("default", "web")));
  EXPECT_EQ(RealNameNote(Meta("default", "web")), "");
}

void ExpectMapped(const ObjectMeta& meta) {
  const std::string id = ContainerIdFor(meta);
  SCOPED_TRACE(meta.namespace_ + "/" + meta.name + " -> " + id);
  EXPECT_TRUE(IsMappedContainerId(meta));
  EXPECT_TRUE(runtime::ValidateContainerId(id).ok()) << runtime::ValidateContainerId(id);
  EXPECT_TRUE(runtime::ValidateDnsLabel("id", id).ok()) << "one label of at most 63";
  EXPECT_FALSE(absl::StrContains(id, '.')) << "never the form <namespace>.<name>";
  EXPECT_THAT(id, MatchesRegex("[a-z0-9-]*-[0-9a-f]{20}"));
  EXPECT_EQ(ContainerIdFor(meta), id) << "deterministic";
  EXPECT_THAT(RealNameNote(meta),
              HasSubstr("(NodeContainer " + meta.namespace_ + "/" + meta.name + ")"));
}

TEST(ContainerIdForTest, LongNamesMapToAValidId) {
  // The longest name the API allows.
  ExpectMapped(Meta("default", std::string(253, 'a')));
  // A part longer than a DNS label.
  const std::string part100 = "p" + std::string(98, 'x') + "q";
  ExpectMapped(Meta("default", part100));
  ExpectMapped(Meta("team-a", "svc." + part100 + ".local"));
  // Parts that fit, but too long together.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "part-" + std::to_string(i) + ".";
  many += "end";
  ExpectMapped(Meta("default", many));
  ExpectMapped(Meta(std::string(63, 'n'), std::string(70, 'm')));
}

TEST(ContainerIdForTest, PrefixIsReadable) {
  const std::string id = ContainerIdFor(Meta("prod", "metrics.collector." + std::string(120, 'x')));
  EXPECT_THAT(id, StartsWith("prod-metrics-collector-xxxxxxxxxxxxxxxxxxx-"));
  EXPECT_EQ(id.size(), 63u);
}

TEST(ContainerIdForTest, LongNamesDoNotCollide) {
  std::set<std::string> ids;
  const std::string shared(200, 's');
  for (const char* tail : {"a", "b", "a.b", "ab", "-a"}) {
    ids.insert(ContainerIdFor(Meta("default", shared + tail)));
  }
  ids.insert(ContainerIdFor(Meta("other", shared + "a")));
  // The same readable prefix (namespace "a-b" + name "c" vs "a" + "b-c").
  ids.insert(ContainerIdFor(Meta("a-b", "c" + std::string(130, 'c'))));
  ids.insert(ContainerIdFor(Meta("a", "b-c" + std::string(128, 'c'))));
  EXPECT_EQ(ids.size(), 8u);
}

// The mapping is part of the on-disk format: a change would orphan every
// running container with a long name on upgrade. (The hashes are those of
// `printf %s 'default/aaa...' | sha256sum`.)
TEST(ContainerIdForTest, MappingIsPinned) {
  EXPECT_EQ(ContainerIdFor(Meta("default", std::string(253, 'a'))),
            "default-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-4a6f19b4d248f3a8507b");
  EXPECT_EQ(ContainerIdFor(Meta("prod", "metrics.collector." + std::string(120, 'x'))),
            "prod-metrics-collector-xxxxxxxxxxxxxxxxxxx-b61989a53d11d7671bc7");
}

// Whatever strings it is given (an object the parser refused, read from the
// API), the id is valid.
TEST(ContainerIdForTest, AnyInputGivesAValidId) {
  for (const ObjectMeta& m :
       {Meta("", ""), Meta("Default", "Web"), Meta("default", "../x"), Meta("-", "-"),
        Meta("ns", std::string(300, '.')), Meta("ns", std::string("a\0b", 3))}) {
    EXPECT_TRUE(runtime::ValidateContainerId(ContainerIdFor(m)).ok()) << ContainerIdFor(m);
  }
  EXPECT_NE(ContainerIdFor(Meta("Default", "Web")), ContainerIdFor(Meta("default", "web")));
}

TEST(HostnameForTest, FirstPartCutToALabel) {
  EXPECT_EQ(HostnameFor(Meta("default", "web")), "web");
  EXPECT_EQ(HostnameFor(Meta("default", "web.example.com")), "web");
  EXPECT_EQ(HostnameFor(Meta("default", std::string(100, 'h') + ".x")), std::string(63, 'h'));
  EXPECT_EQ(HostnameFor(Meta("default", std::string(62, 'h') + "-" + std::string(9, 'i'))),
            std::string(62, 'h'));
}

}  // namespace
}  // namespace berth::controller
