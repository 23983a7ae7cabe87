#include "controller/sources/manifest_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/sources/manifest_source.h"
#include "controller/sources/testing/manifest_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::controller {
namespace {

namespace fs = std::filesystem;
using ::berth::controller::test_util::ImageOf;
using ::berth::controller::test_util::Manifest;
using ::berth::controller::test_util::TempDir;
using ::berth::controller::test_util::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ManifestWriterTest : public ::testing::Test {
 protected:
  ManifestWriter Writer(std::set<std::string> api_ids = {}) {
    return ManifestWriter(
        dir_.path(), [this](const std::string& id) { return source_.Get(id); },
        [api_ids](const std::string& id) { return api_ids.count(id) > 0; });
  }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      names.push_back(e.path().filename());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string Read(const std::string& name) const {
    absl::StatusOr<std::string> s = runtime::ReadFile(dir_ / name);
    return s.ok() ? *s : "<" + std::string(s.status().message()) + ">";
  }

  TempDir dir_;
  ManifestSource source_{dir_.path()};
};

TEST(SplitDocumentsTest, SplitsAtMarkersWithTheirLines) {
  std::vector<ManifestDocument> docs =
      SplitDocuments("# a comment\na: 1\n---\nb: |\n  text\n--- \nc: 3\n...\nd: 4\n");
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0].first_line, 1);
  EXPECT_EQ(docs[0].text, "# a comment\na: 1\n");
  EXPECT_EQ(docs[1].first_line, 3);
  EXPECT_EQ(docs[1].text, "---\nb: |\n  text\n");
  EXPECT_EQ(docs[2].first_line, 6);
  EXPECT_EQ(docs[2].text, "--- \nc: 3\n...\n");
  EXPECT_EQ(docs[3].first_line, 9);
  EXPECT_EQ(docs[3].text, "d: 4\n");
  // "---x" is no marker.
  EXPECT_EQ(SplitDocuments("a: ---x\n---x: 1\n").size(), 1u);
}

TEST(FileNameForTest, IsTheContainerIdDotYaml) {
  ObjectMeta m;
  m.namespace_ = "kube-system";
  m.name = "web";
  EXPECT_EQ(FileNameFor(m), "kube-system.web.yaml");
  m.name = std::string(200, 'a');  // too long for a container id: mapped
  EXPECT_EQ(FileNameFor(m), ContainerIdFor(m) + ".yaml");
  EXPECT_LT(FileNameFor(m).size(), 100u);
}

TEST_F(ManifestWriterTest, CreatesOneFilePerObjectWithItsDocument) {
  const std::string manifest = "# two\n" + Manifest("a") + "---\n" + Manifest("b", "alpine", "ns1");
  absl::StatusOr<std::vector<AppliedObject>> r = Writer().Apply(manifest, "x.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].result, "created");
  EXPECT_EQ((*r)[0].file, dir_ / "default.a.yaml");
  EXPECT_EQ((*r)[1].file, dir_ / "ns1.b.yaml");
  EXPECT_THAT(Files(), ElementsAre("default.a.yaml", "ns1.b.yaml"));
  EXPECT_EQ(Read("default.a.yaml"), "# two\n" + Manifest("a"));
  EXPECT_EQ(Read("ns1.b.yaml"), "---\n" + Manifest("b", "alpine", "ns1"));
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "ns1.b.yaml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  source_.Scan();
  EXPECT_EQ(ImageOf(source_, "ns1.b"), "alpine");
}

TEST_F(ManifestWriterTest, UnchangedThenConfiguredEvenBeforeTheSourceRescans) {
  ASSERT_TRUE(Writer().Apply(Manifest("a"), "-", false).ok());
  absl::StatusOr<std::vector<AppliedObject>> r = Writer().Apply(Manifest("a"), "-", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].result, "unchanged");
  r = Writer().Apply(Manifest("a", "alpine"), "-", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].result, "configured");
  EXPECT_EQ(Read("default.a.yaml"), Manifest("a", "alpine"));
}

TEST_F(ManifestWriterTest, UpdatesTheFileTheObjectLivesIn) {
  WriteFile(dir_ / "mine.yml", Manifest("a"));
  ASSERT_EQ(chmod((dir_ / "mine.yml").c_str(), 0644), 0);
  source_.Scan();
  absl::StatusOr<std::vector<AppliedObject>> r =
      Writer().Apply(Manifest("a", "alpine"), "-", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].file, dir_ / "mine.yml");
  EXPECT_EQ((*r)[0].result, "configured");
  EXPECT_THAT(Files(), ElementsAre("mine.yml"));
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "mine.yml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u) << "a rewritten file keeps its mode";
}

TEST_F(ManifestWriterTest, RefusesAFileThatHoldsOtherObjectsToo) {
  WriteFile(dir_ / "all.yaml", Manifest("a") + "---\n" + Manifest("b"));
  source_.Scan();
  absl::StatusOr<std::vector<AppliedObject>> r =
      Writer().Apply(Manifest("a", "alpine"), "-", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("NodeContainer default/a is defined in " +
                                              (dir_ / "all.yaml") + " together with 1 other"));
  absl::StatusOr<std::string> d = Writer().Delete("default", "b");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Files(), ElementsAre("all.yaml"));
}

TEST_F(ManifestWriterTest, AnInvalidDocumentWritesNothing) {
  const std::string manifest =
      Manifest("a") + "---\n" + Manifest("b") + "---\n" + Manifest("Not_A_Name");
  absl::StatusOr<std::vector<AppliedObject>> r = Writer().Apply(manifest, "in.yaml", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("in.yaml:13:18: metadata.name: "));
  EXPECT_TRUE(Files().empty());
  r = Writer().Apply(Manifest("a") + "---\n" + Manifest("a"), "in.yaml", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("defined twice"));
  r = Writer().Apply("# nothing\n", "in.yaml", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Files().empty());
}

TEST_F(ManifestWriterTest, ARefusedObjectWritesNothingOfTheOthers) {
  WriteFile(dir_ / "default.b.yaml", "kind: [\n");
  absl::StatusOr<std::vector<AppliedObject>> r =
      Writer().Apply(Manifest("a") + "---\n" + Manifest("b"), "-", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("does not parse"));
  EXPECT_THAT(Files(), ElementsAre("default.b.yaml"));
}

TEST_F(ManifestWriterTest, DryRunWritesNothing) {
  absl::StatusOr<std::vector<AppliedObject>> r = Writer().Apply(Manifest("a"), "-", true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].result, "created");
  EXPECT_TRUE(Files().empty());
}

TEST_F(ManifestWriterTest, ObjectsOfTheApiAreRefused) {
  absl::StatusOr<std::vector<AppliedObject>> r =
      Writer({"default.a"}).Apply(Manifest("a"), "-", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr("NodeContainer default/a comes from the Kubernetes API; use kubectl"));
  EXPECT_EQ(Writer({"default.a"}).Delete("default", "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Files().empty());
}

TEST_F(ManifestWriterTest, SymlinkedFilesAreRefused) {
  WriteFile(dir_ / "real", Manifest("a"));
  ASSERT_EQ(symlink("real", (dir_ / "default.a.yaml").c_str()), 0);
  absl::StatusOr<std::vector<AppliedObject>> r =
      Writer().Apply(Manifest("a", "alpine"), "-", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("is a symlink"));
  EXPECT_EQ(Read("real"), Manifest("a"));
}

TEST_F(ManifestWriterTest, DeleteRemovesTheFileOrSaysNotFound) {
  WriteFile(dir_ / "mine.yaml", Manifest("a"));
  source_.Scan();
  absl::StatusOr<std::string> d = Writer().Delete("default", "a");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, dir_ / "mine.yaml");
  EXPECT_TRUE(Files().empty());
  d = Writer().Delete("default", "a");  // the source has not rescanned
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("nodecontainers \"a\" not found"));
}

TEST_F(ManifestWriterTest, NamesAreCheckedBeforeTheyReachAPath) {
  WriteFile(dir_ / "x.yaml", Manifest("a"));
  for (const auto& [ns, name] : std::vector<std::pair<std::string, std::string>>{
           {"default", "../x"}, {"..", "x"}, {"default", "a/b"}, {"default", ""}, {"a.b", "c"}}) {
    EXPECT_EQ(Writer().Delete(ns, name).status().code(), absl::StatusCode::kInvalidArgument)
        << ns << "/" << name;
  }
  EXPECT_THAT(Files(), ElementsAre("x.yaml"));
}

}  // namespace
}  // namespace berth::controller
