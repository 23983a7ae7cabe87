#include "controller/sources/manifest_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "controller/sources/testing/manifest_test_util.h"
#include "controller/spec/spec_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

using ::berth::controller::test_util::ImageOf;
using ::berth::controller::test_util::Manifest;
using ::berth::controller::test_util::TempDir;
using ::berth::controller::test_util::WriteFile;

std::string Docs(const std::vector<std::string>& docs) { return absl::StrJoin(docs, "---\n"); }

// Captures what is logged through spdlog's default logger while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  std::string text() const { return out_.str(); }
  // Lines logged that contain `needle`.
  int Count(const std::string& needle) const {
    int n = 0;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Lines as in /etc/shadow: user names and password hashes that must never
// reach an error or the log.
constexpr const char* kShadow =
    "root:$6$Qx7vP2mW$T1s9Kd0uZ8bYp3LrVf6NcEa4HgJw5XiOq2MnBy7Rt1Us0Vk9Lz3Pa8"
    "Dc6Fe4Gh2Jk1Wm5Xn:19000:0:99999:7:::\n"
    "daemon:*:19000:0:99999:7:::\n"
    "alice:$y$j9T$Fh3Ks8Lq2Wn6Pb1Vz$Gx0Rc5Tm7Yd9Ue4Ji2Oa8Se6Dk3Fl1Hq5Zw9Xv7Nb4:"
    "19500:0:99999:7:::\n";

// Pieces of kShadow that would show that its content leaked.
std::vector<std::string> ShadowSecrets() {
  return {"root",     "daemon", "alice",    "Qx7vP2mW", "T1s9Kd0u",
          "Dc6Fe4Gh", "j9T",    "Fh3Ks8Lq", "Gx0Rc5Tm", "Nb4:"};
}

// ---------------------------------------------------------------------------
// ManifestSource

TEST(ManifestSourceTest, AddFileReturnsItsIds) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Docs({Manifest("web"), Manifest("db", "redis", "team-b")}));
  ManifestSource source(dir.path());

  EXPECT_THAT(source.Scan(), ElementsAre("default.web", "team-b.db"));
  SourceSnapshot snap = source.Snapshot();
  EXPECT_THAT(snap.errors, IsEmpty());
  ASSERT_THAT(snap.objects, SizeIs(2));
  EXPECT_EQ(snap.objects.at("team-b.db").spec.image, "redis");
  EXPECT_EQ(snap.objects.at("default.web").metadata.name, "web");
  EXPECT_THAT(snap.objects.at("default.web").source, HasSubstr(dir / "a.yaml:"));
  EXPECT_EQ(ImageOf(source, "default.web"), "busybox");
  EXPECT_FALSE(source.Get("default.nope").has_value());
}

TEST(ManifestSourceTest, UnchangedRescanReturnsNothing) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_THAT(source.Scan(), IsEmpty());
  // Rewritten with the same bytes (new mtime): still nothing.
  WriteFile(dir / "a.yaml", Manifest("web"));
  EXPECT_THAT(source.Scan(), IsEmpty());
}

TEST(ManifestSourceTest, EditedFieldReturnsThatIdOnly) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Docs({Manifest("web"), Manifest("db")}));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(2));

  WriteFile(dir / "a.yaml", Docs({Manifest("web", "nginx"), Manifest("db")}));
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_EQ(ImageOf(source, "default.web"), "nginx");
}

TEST(ManifestSourceTest, MovedLinesAreNotAChangeButSourceIsUpdated) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(1));
  EXPECT_EQ(source.Get("default.web")->source, dir / "a.yaml:1");

  WriteFile(dir / "a.yaml", "# a comment\n\n" + Manifest("web"));
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_EQ(source.Get("default.web")->source, dir / "a.yaml:3");
}

TEST(ManifestSourceTest, BrokenFileKeepsLastGoodObjectsAndFixClearsError) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Docs({Manifest("web"), Manifest("api")}));
  WriteFile(dir / "b.yaml", Manifest("db"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(3));

  // Syntax error on line 7 (unclosed flow sequence).
  WriteFile(dir / "a.yaml",
            "apiVersion: berth.dev/v1alpha1\n"
            "kind: NodeContainer\n"
            "metadata:\n"
            "  name: web\n"
            "spec:\n"
            "  image: nginx\n"
            "  command: [sleep, \"10\"\n"
            "  args: []\n");
  EXPECT_THAT(source.Scan(), IsEmpty());
  SourceSnapshot snap = source.Snapshot();
  EXPECT_THAT(snap.errors, Contains(HasSubstr(dir / "a.yaml:")));
  EXPECT_THAT(snap.errors, Contains(AllOf(HasSubstr(dir / "a.yaml"), HasSubstr("not applied"),
                                          HasSubstr("default.api"), HasSubstr("default.web"))));
  for (const std::string& e : snap.errors) {
    EXPECT_THAT(e, HasSubstr(dir / "a.yaml")) << "only a.yaml is broken";
  }
  EXPECT_EQ(ImageOf(source, "default.web"), "busybox");
  EXPECT_EQ(ImageOf(source, "default.api"), "busybox");
  EXPECT_EQ(ImageOf(source, "default.db"), "busybox");

  // Other files keep working meanwhile.
  WriteFile(dir / "b.yaml", Manifest("db", "redis"));
  EXPECT_THAT(source.Scan(), ElementsAre("default.db"));
  EXPECT_EQ(ImageOf(source, "default.db"), "redis");
  EXPECT_FALSE(source.Snapshot().errors.empty());

  // Fixed (and the fix drops api): errors gone, changes applied.
  WriteFile(dir / "a.yaml", Manifest("web", "nginx"));
  EXPECT_THAT(source.Scan(), ElementsAre("default.api", "default.web"));
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
  EXPECT_EQ(ImageOf(source, "default.web"), "nginx");
  EXPECT_FALSE(source.Get("default.api").has_value());
}

TEST(ManifestSourceTest, EmptiedFileKeepsItsObjectsUntilDeleted) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), ElementsAre("default.web"));
  // `curl ... > a.yaml` truncates it before the new content arrives.
  for (const char* content : {"", "# only a comment\n", "---\n"}) {
    WriteFile(dir / "a.yaml", content);
    EXPECT_THAT(source.Scan(), IsEmpty()) << "content: " << content;
    SourceSnapshot snap = source.Snapshot();
    EXPECT_THAT(snap.errors, Contains(HasSubstr("no NodeContainer")));
    EXPECT_THAT(snap.failed_files, ElementsAre(dir / "a.yaml"));
    EXPECT_FALSE(snap.objects_unknown) << "its last good version is known";
    EXPECT_TRUE(source.Get("default.web").has_value());
  }
  ASSERT_EQ(unlink((dir / "a.yaml").c_str()), 0);
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_THAT(source.Snapshot().failed_files, IsEmpty());
}

TEST(ManifestSourceTest, FileBrokenSinceStartMakesObjectsUnknown) {
  TempDir dir;
  WriteFile(dir / "a.yaml", "kind: [\n");
  WriteFile(dir / "b.yaml", Manifest("db"));
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), ElementsAre("default.db"));
  EXPECT_TRUE(source.Snapshot().objects_unknown);
  WriteFile(dir / "a.yaml", Manifest("web"));
  source.Scan();
  EXPECT_FALSE(source.Snapshot().objects_unknown);
  WriteFile(dir / "a.yaml", "kind: [\n");
  source.Scan();
  EXPECT_FALSE(source.Snapshot().objects_unknown) << "its last good version is known now";
  EXPECT_THAT(source.Snapshot().failed_files, ElementsAre(dir / "a.yaml"));
}

TEST(ManifestSourceTest, ErrorCarriesLineAndColumnOfInvalidField) {
  TempDir dir;
  WriteFile(dir / "a.yaml",
            "apiVersion: berth.dev/v1alpha1\n"
            "kind: NodeContainer\n"
            "metadata: {name: web}\n"
            "spec:\n"
            "  image: busybox\n"
            "  bogus: 1\n");
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, Contains(HasSubstr(dir / "a.yaml:6:")));
  EXPECT_THAT(source.Snapshot().errors,
              Contains(AllOf(HasSubstr("not applied"), HasSubstr("nothing from it is in effect"))));
}

TEST(ManifestSourceTest, FileWithSomeBadDocumentsIsNotHalfApplied) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(1));

  WriteFile(dir / "a.yaml", Docs({Manifest("web", "nginx"), Manifest("extra"),
                                  "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
                                  "metadata: {name: bad}\nspec: {image: busybox, bogus: 1}\n"}));
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_EQ(ImageOf(source, "default.web"), "busybox");
  EXPECT_FALSE(source.Get("default.extra").has_value());
  EXPECT_THAT(source.Snapshot().errors, Contains(HasSubstr("bogus")));
  // Its own errors, counted per file; Problems leaves the objects out.
  SourceSnapshot problems = source.Problems();
  EXPECT_THAT(problems.errors_per_file, ElementsAre(Pair(dir / "a.yaml", 1)));
  EXPECT_THAT(problems.failed_files, ElementsAre(dir / "a.yaml"));
  EXPECT_THAT(problems.errors, source.Snapshot().errors);
  EXPECT_THAT(problems.objects, IsEmpty());
  WriteFile(dir / "a.yaml", Manifest("web"));
  source.Scan();
  EXPECT_THAT(source.Problems().errors_per_file, IsEmpty());
}

TEST(ManifestSourceTest, DeletedFileRemovesItsIds) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Docs({Manifest("web"), Manifest("api")}));
  WriteFile(dir / "b.yml", Manifest("db"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(3));

  fs::remove(dir / "a.yaml");
  EXPECT_THAT(source.Scan(), ElementsAre("default.api", "default.web"));
  EXPECT_THAT(source.Snapshot().objects, SizeIs(1));
  EXPECT_FALSE(source.Get("default.web").has_value());
  EXPECT_TRUE(source.Get("default.db").has_value());
}

TEST(ManifestSourceTest, DeletedBrokenFileRemovesItsLastGoodIds) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(1));
  WriteFile(dir / "a.yaml", "key: [unclosed\n");
  ASSERT_THAT(source.Scan(), IsEmpty());
  fs::remove(dir / "a.yaml");
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

TEST(ManifestSourceTest, DuplicateAcrossFilesFirstOwnerKeepsIt) {
  TempDir dir;
  WriteFile(dir / "b.yaml", Manifest("web", "from-b"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), ElementsAre("default.web"));

  // a.yaml sorts first, but b.yaml owned the id already.
  WriteFile(dir / "a.yaml", Docs({Manifest("web", "from-a"), Manifest("api")}));
  EXPECT_THAT(source.Scan(), ElementsAre("default.api"));
  EXPECT_EQ(ImageOf(source, "default.web"), "from-b");
  EXPECT_THAT(source.Snapshot().errors,
              ElementsAre(AllOf(HasSubstr("duplicate NodeContainer default.web"),
                                HasSubstr(dir / "a.yaml"), HasSubstr(dir / "b.yaml"),
                                HasSubstr("using the one in " + (dir / "b.yaml")))));
  // Stable across rescans.
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_EQ(ImageOf(source, "default.web"), "from-b");

  // The owner goes away: the other file takes over, error cleared.
  fs::remove(dir / "b.yaml");
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_EQ(ImageOf(source, "default.web"), "from-a");
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

TEST(ManifestSourceTest, DuplicateAcrossNewFilesLexicographicallyFirstWins) {
  TempDir dir;
  WriteFile(dir / "b.yaml", Manifest("web", "from-b"));
  WriteFile(dir / "a.yaml", Manifest("web", "from-a"));
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_EQ(ImageOf(source, "default.web"), "from-a");
  EXPECT_THAT(source.Snapshot().errors,
              ElementsAre(HasSubstr("duplicate NodeContainer default.web in " + (dir / "a.yaml") +
                                    " and " + (dir / "b.yaml"))));
}

TEST(ManifestSourceTest, DuplicateWithinFileFailsThatFile) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(1));

  WriteFile(dir / "a.yaml", Docs({Manifest("web", "one"), Manifest("web", "two")}));
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_EQ(ImageOf(source, "default.web"), "busybox");
  EXPECT_THAT(source.Snapshot().errors,
              Contains(AllOf(HasSubstr("duplicate NodeContainer default.web"),
                             HasSubstr(dir / "a.yaml:1"), HasSubstr(dir / "a.yaml:5"))));
}

TEST(ManifestSourceTest, HiddenOtherSuffixesSubdirectoriesAndDanglingIgnored) {
  TempDir dir;
  WriteFile(dir / ".hidden.yaml", Manifest("hidden"));
  WriteFile(dir / "notes.txt", Manifest("txt"));
  WriteFile(dir / "x.yaml~", Manifest("backup"));
  fs::create_directory(dir / "sub");
  WriteFile(dir / "sub/x.yaml", Manifest("nested"));
  fs::create_symlink("nowhere.yaml", dir / "dangling.yaml");
  ASSERT_EQ(mkfifo((dir / ".fifo.yaml").c_str(), 0600), 0);
  WriteFile(dir / "ok.json", R"({"apiVersion": "berth.dev/v1alpha1", "kind": "NodeContainer",)"
                             R"( "metadata": {"name": "json"}, "spec": {"image": "busybox"}})");
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), ElementsAre("default.json"));
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

TEST(ManifestSourceTest, DirectoriesAndFifosAreReportedOnceAndNotRead) {
  TempDir dir;
  fs::create_directory(dir / "sub");
  WriteFile(dir / "sub/x.yaml", Manifest("nested"));
  fs::create_directory(dir / "dir.yaml");
  fs::create_directory_symlink("sub", dir / "linkdir.yaml");
  ASSERT_EQ(mkfifo((dir / "fifo.yaml").c_str(), 0600), 0);  // must not block
  WriteFile(dir / "ok.yaml", Manifest("web"));
  LogCapture log;
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  const auto expected_errors = UnorderedElementsAre(
      AllOf(HasSubstr(dir / "dir.yaml: a directory"), HasSubstr("not read")),
      AllOf(HasSubstr(dir / "linkdir.yaml: a directory"), HasSubstr("not read")),
      AllOf(HasSubstr(dir / "fifo.yaml: a FIFO"), HasSubstr("not read")));
  SourceSnapshot snap = source.Snapshot();
  EXPECT_THAT(snap.errors, expected_errors);
  // They contribute nothing and hide nothing: containers may be removed.
  EXPECT_THAT(snap.failed_files, IsEmpty());
  EXPECT_FALSE(snap.objects_unknown);
  EXPECT_THAT(source.Problems().errors_per_file,
              UnorderedElementsAre(Pair(dir / "dir.yaml", 1), Pair(dir / "linkdir.yaml", 1),
                                   Pair(dir / "fifo.yaml", 1)));

  // Reported once, not at every Scan; still in the snapshot.
  for (int i = 0; i < 3; ++i) EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, expected_errors);
  EXPECT_EQ(log.Count(dir / "fifo.yaml"), 1) << log.text();
  EXPECT_EQ(log.Count(dir / "dir.yaml"), 1) << log.text();
  EXPECT_EQ(log.Count(dir / "linkdir.yaml"), 1) << log.text();

  // Gone: no longer reported; back: reported again.
  fs::remove(dir / "fifo.yaml");
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, SizeIs(2));
  ASSERT_EQ(mkfifo((dir / "fifo.yaml").c_str(), 0600), 0);
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, expected_errors);
  EXPECT_EQ(log.Count(dir / "fifo.yaml"), 2) << log.text();
}

TEST(ManifestSourceTest, SymlinkOutOfTheDirectoryIsRefusedUnread) {
  TempDir root;
  const std::string dir = root / "manifests";
  fs::create_directory(dir);
  fs::create_directory(root / "manifests-old");
  WriteFile(root / "shadow", kShadow);
  WriteFile(root / "elsewhere.yaml", Manifest("elsewhere"));
  WriteFile(root / "manifests-old/x.yaml", Manifest("old"));
  fs::create_symlink(root / "shadow", dir + "/shadow.yaml");
  fs::create_symlink("../elsewhere.yaml", dir + "/relative.yaml");
  fs::create_symlink("../manifests-old/x.yaml", dir + "/sibling.yaml");
  fs::create_directory_symlink("..", dir + "/up");
  fs::create_symlink("up/elsewhere.yaml", dir + "/through-dir-link.yaml");
  WriteFile(dir + "/ok.yaml", Manifest("web"));
  LogCapture log;
  ManifestSource source(dir);
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  SourceSnapshot snap = source.Snapshot();
  for (const char* name :
       {"shadow.yaml", "relative.yaml", "sibling.yaml", "through-dir-link.yaml"}) {
    const std::string path = dir + "/" + name;
    EXPECT_THAT(snap.errors, Contains(AllOf(HasSubstr("read manifest " + path + ": "),
                                            HasSubstr("outside the manifests directory"))))
        << name;
    EXPECT_EQ(snap.failed_files.count(path), 1u) << name;
  }
  for (const std::string& secret : ShadowSecrets()) {
    for (const std::string& e : snap.errors) {
      EXPECT_THAT(e, Not(HasSubstr(secret)));
    }
    EXPECT_THAT(log.text(), Not(HasSubstr(secret)));
  }
  EXPECT_EQ(log.Count(dir + "/shadow.yaml"), 2) << log.text();  // error, "not applied"
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_EQ(log.Count(dir + "/shadow.yaml"), 2) << log.text();
}

TEST(ManifestSourceTest, SymlinksInsideASymlinkedDirectoryAreRead) {
  TempDir root;
  const std::string real = root / "real";
  fs::create_directory(real);
  fs::create_directory_symlink("real", root / "link");
  const std::string dir = root / "link";
  // A ConfigMap volume's layout, and links by absolute path, through the
  // directory's symlink and to its real path.
  fs::create_directory(real + "/..2026_01_01_00_00_00.1");
  WriteFile(real + "/..2026_01_01_00_00_00.1/x.yaml", Manifest("cm"));
  fs::create_directory_symlink("..2026_01_01_00_00_00.1", real + "/..data");
  fs::create_symlink("..data/x.yaml", real + "/x.yaml");
  fs::create_directory(real + "/sub");
  WriteFile(real + "/sub/y.yaml", Manifest("via-link"));
  WriteFile(real + "/sub/z.yaml", Manifest("real-path"));
  fs::create_symlink(dir + "/sub/y.yaml", real + "/y.yaml");
  fs::create_symlink(real + "/sub/z.yaml", real + "/z.yaml");
  ManifestSource source(dir);
  EXPECT_THAT(source.Scan(), ElementsAre("default.cm", "default.real-path", "default.via-link"));
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

TEST(ManifestSourceTest, ConfigMapLayoutAndAtomicSwap) {
  TempDir dir;
  fs::create_directory(dir / "..2026_01_01_00_00_00.1");
  WriteFile(dir / "..2026_01_01_00_00_00.1/x.yaml", Manifest("web"));
  WriteFile(dir / "..2026_01_01_00_00_00.1/y.yaml", Manifest("db"));
  fs::create_directory_symlink("..2026_01_01_00_00_00.1", dir / "..data");
  fs::create_symlink("..data/x.yaml", dir / "x.yaml");
  fs::create_symlink("..data/y.yaml", dir / "y.yaml");
  ManifestSource source(dir.path());
  EXPECT_THAT(source.Scan(), ElementsAre("default.db", "default.web"));

  // Update x, drop y, the way kubelet's AtomicWriter does it.
  fs::create_directory(dir / "..2026_01_02_00_00_00.2");
  WriteFile(dir / "..2026_01_02_00_00_00.2/x.yaml", Manifest("web", "nginx"));
  fs::create_directory_symlink("..2026_01_02_00_00_00.2", dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  // y.yaml now dangles (kubelet removes it next): treated as gone.
  EXPECT_THAT(source.Scan(), ElementsAre("default.db", "default.web"));
  EXPECT_EQ(ImageOf(source, "default.web"), "nginx");
  fs::remove(dir / "y.yaml");
  fs::remove_all(dir / "..2026_01_01_00_00_00.1");
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

// After the watcher's report, only the names it reported are read again,
// with every symlinked manifest; a file changed behind the directory's back
// (here through a hard link elsewhere: no event in the directory) waits for
// the next full Scan.
TEST(ManifestSourceTest, AReportedChangeRereadsOnlyItsNamesAndSymlinks) {
  TempDir dir;
  TempDir elsewhere;
  fs::create_directory(dir / "m");
  const std::string m = dir / "m";
  WriteFile(m + "/a.yaml", Manifest("a"));
  WriteFile(m + "/b.yaml", Manifest("b"));
  fs::create_hard_link(m + "/a.yaml", elsewhere / "a-link.yaml");
  WriteFile(m + "/..target.yaml", Manifest("c"));
  fs::create_symlink("..target.yaml", m + "/c.yaml");
  ManifestSource source(m);
  ASSERT_THAT(source.Scan(), ElementsAre("default.a", "default.b", "default.c"));

  // a changed through its other link, b in place (reported), c's target.
  {
    std::ofstream link(elsewhere / "a-link.yaml", std::ios::trunc);
    link << Manifest("a", "nginx");
  }
  WriteFile(m + "/b.yaml", Manifest("b", "redis"));
  WriteFile(m + "/..target.yaml", Manifest("c", "httpd"));
  EXPECT_THAT(source.Scan(DirectoryChange{false, {"b.yaml", "..target.yaml"}}),
              ElementsAre("default.b", "default.c"));
  EXPECT_EQ(ImageOf(source, "default.a"), "busybox") << "not reported: not read";
  EXPECT_EQ(ImageOf(source, "default.b"), "redis");
  EXPECT_EQ(ImageOf(source, "default.c"), "httpd");
  // The full Scan sees a's change.
  EXPECT_THAT(source.Scan(), ElementsAre("default.a"));
  EXPECT_EQ(ImageOf(source, "default.a"), "nginx");
  // So does a report of everything.
  {
    std::ofstream link(elsewhere / "a-link.yaml", std::ios::trunc);
    link << Manifest("a", "caddy");
  }
  EXPECT_THAT(source.Scan(DirectoryChange{true, {}}), ElementsAre("default.a"));

  // A file removed or added is seen by the listing whatever is reported.
  fs::remove(m + "/b.yaml");
  WriteFile(m + "/d.yaml", Manifest("d"));
  EXPECT_THAT(source.Scan(DirectoryChange{false, {}}), ElementsAre("default.b", "default.d"));
}

// Many files are read and parsed on every core (from 128 files on a
// machine with two): the outcome is the one of a file-by-file read, in file
// order (errors, duplicates, a broken file keeping its last good objects,
// only the reported names re-read).
TEST(ManifestSourceTest, ManyFilesReadAtOnceGiveTheOutcomeOfOneByOne) {
  TempDir dir;
  constexpr int kFiles = 600;
  auto name = [](int i) { return absl::StrCat("f", 1000 + i, ".yaml"); };
  for (int i = 0; i < kFiles; ++i) {
    // Every 100th file also defines the id of the file after it.
    std::string content = Manifest(absl::StrCat("c", i), absl::StrCat("img", i));
    if (i % 100 == 0) content = Docs({content, Manifest(absl::StrCat("c", i + 1), "dup")});
    WriteFile(dir / name(i), content);
  }
  ManifestSource source(dir.path());
  std::vector<std::string> changed = source.Scan();
  EXPECT_THAT(changed, SizeIs(kFiles));
  SourceSnapshot snap = source.Snapshot();
  ASSERT_THAT(snap.objects, SizeIs(kFiles));
  for (int i = 0; i < kFiles; ++i) {
    // The lexicographically first file wins a duplicate.
    EXPECT_EQ(snap.objects.at(absl::StrCat("default.c", i)).spec.image,
              i % 100 == 1 ? "dup" : absl::StrCat("img", i))
        << i;
  }
  ASSERT_THAT(snap.errors, SizeIs(6));
  for (int k = 0; k < 6; ++k) {
    EXPECT_THAT(snap.errors[k], HasSubstr(absl::StrCat("duplicate NodeContainer default.c",
                                                       k * 100 + 1, " in ", dir / name(k * 100),
                                                       " and ", dir / name(k * 100 + 1))));
  }

  // 300 files change: every third breaks, the others get a new image; the
  // change reports them all but one, which is then not read.
  std::set<std::string> reported;
  for (int i = 0; i < 300; ++i) {
    const int f = 2 * i + 1;
    WriteFile(dir / name(f), i % 3 == 0 ? "spec: [\n" : Manifest(absl::StrCat("c", f), "new"));
    if (f != 599) reported.insert(name(f));
  }
  changed = source.Scan(DirectoryChange{false, reported});
  // 200 new images, less the unread one and four whose id another file owns.
  EXPECT_THAT(changed, SizeIs(195));
  snap = source.Snapshot();
  for (int i = 0; i < 300; ++i) {
    const int f = 2 * i + 1;
    const std::string image = snap.objects.at(absl::StrCat("default.c", f)).spec.image;
    if (f % 100 == 1) {
      EXPECT_EQ(image, "dup") << "owned by the file before: " << f;
    } else if (f == 599) {
      EXPECT_EQ(image, "img599") << "not reported: not read";
    } else if (i % 3 == 0) {
      EXPECT_EQ(image, absl::StrCat("img", f)) << "the last good one";
    } else {
      EXPECT_EQ(image, "new") << f;
    }
    if (i % 3 == 0) {
      EXPECT_THAT(snap.failed_files, Contains(dir / name(f)));
    }
  }
  EXPECT_THAT(snap.failed_files, SizeIs(100));
  // The errors come in file order.
  std::vector<std::string> files_in_errors;
  for (const std::string& e : snap.errors) {
    if (absl::StartsWith(e, "duplicate")) continue;  // those follow, by id
    size_t at = e.find(dir.path() + "/f");
    ASSERT_NE(at, std::string::npos) << e;
    files_in_errors.push_back(e.substr(at, dir.path().size() + 11));
  }
  EXPECT_THAT(files_in_errors, SizeIs(200));  // the parse error and "not applied" of each
  EXPECT_TRUE(std::is_sorted(files_in_errors.begin(), files_in_errors.end()));
  // The full Scan reads the unreported one too.
  EXPECT_THAT(source.Scan(), ElementsAre("default.c599"));
}

// A file whose last read failed is read again at every scan, reported or
// not, and keeps its error until it reads.
TEST(ManifestSourceTest, AFileThatFailedToReadIsAlwaysReadAgain) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("a"));
  WriteFile(dir / "big.yaml", std::string(kMaxManifestBytes + 1, '#'));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), ElementsAre("default.a"));
  ASSERT_THAT(source.Snapshot().errors, Contains(HasSubstr("big.yaml")));
  EXPECT_THAT(source.Scan(DirectoryChange{false, {"a.yaml"}}), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, Contains(HasSubstr("big.yaml")))
      << "not reported, and still failing";
  WriteFile(dir / "big.yaml", Manifest("big"));
  EXPECT_THAT(source.Scan(DirectoryChange{false, {}}), ElementsAre("default.big"))
      << "its last read failed: read again although not reported";
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

TEST(ManifestSourceTest, FileOverOneMiBIsAnErrorAndNotApplied) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("web"));
  ManifestSource source(dir.path());
  ASSERT_THAT(source.Scan(), SizeIs(1));

  std::string padding = "# " + std::string(kMaxManifestBytes, 'x') + "\n";
  WriteFile(dir / "a.yaml", padding + Manifest("web", "nginx"));
  WriteFile(dir / "big.yaml", padding + Manifest("big"));
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_EQ(ImageOf(source, "default.web"), "busybox");
  EXPECT_FALSE(source.Get("default.big").has_value());
  EXPECT_THAT(source.Snapshot().errors,
              Contains(AllOf(HasSubstr(dir / "big.yaml"), HasSubstr("file larger than 1 MiB"))));
  EXPECT_THAT(source.Snapshot().errors,
              Contains(AllOf(HasSubstr(dir / "a.yaml"), HasSubstr("file larger than 1 MiB"))));

  // Exactly 1 MiB is read and handed to the parser (which has its own limits
  // on single nodes and comments, so only the size error is checked).
  std::string exact = Manifest("big");
  while (exact.size() + 1001 <= kMaxManifestBytes) {
    exact += "#" + std::string(999, 'x') + "\n";
  }
  exact += "#" + std::string(kMaxManifestBytes - exact.size() - 2, 'x') + "\n";
  ASSERT_EQ(exact.size(), kMaxManifestBytes);
  WriteFile(dir / "big.yaml", exact);
  WriteFile(dir / "a.yaml", Manifest("web", "nginx"));
  EXPECT_THAT(source.Scan(), Contains("default.web"));
  for (const std::string& e : source.Snapshot().errors) {
    EXPECT_THAT(e, Not(HasSubstr("file larger than 1 MiB")));
  }
}

TEST(ManifestSourceTest, MissingDirectoryKeepsObjectsAndIsReported) {
  TempDir root;
  std::string dir = root / "manifests";
  ManifestSource source(dir);
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors,
              ElementsAre(AllOf(HasSubstr("read manifests directory " + dir),
                                HasSubstr("No such file or directory"))));

  fs::create_directory(dir);
  WriteFile(dir + "/a.yaml", Manifest("web"));
  EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());

  fs::rename(dir, root / "moved");
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_TRUE(source.Get("default.web").has_value());
  EXPECT_THAT(source.Snapshot().errors, ElementsAre(HasSubstr("keeping the 1 NodeContainers")));

  fs::rename(root / "moved", dir);
  EXPECT_THAT(source.Scan(), IsEmpty());
  EXPECT_THAT(source.Snapshot().errors, IsEmpty());
}

TEST(ManifestSourceTest, SnapshotAndGetAreSafeDuringScan) {
  TempDir dir;
  ManifestSource source(dir.path());
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      SourceSnapshot snap = source.Snapshot();
      for (const auto& [id, obj] : snap.objects) EXPECT_EQ(id, ContainerIdFor(obj.metadata));
      source.Get("default.web");
    }
  });
  for (int i = 0; i < 50; ++i) {
    WriteFile(dir / "a.yaml", Manifest("web", absl::StrCat("img", i)));
    EXPECT_THAT(source.Scan(), ElementsAre("default.web"));
  }
  stop.store(true);
  reader.join();
}

TEST(ManifestSourceTest, SameDesiredStateComparesEveryField) {
  NodeContainer a;
  a.metadata.name = "web";
  a.spec.image = "busybox";
  a.spec.env = {{"A", "1"}};
  a.spec.mounts.push_back(Mount{"/data", "/srv", std::nullopt, false});
  a.source = "a.yaml:1";
  NodeContainer b = a;
  b.source = "b.yaml:7";
  EXPECT_TRUE(SameDesiredState(a, b));

  auto differs = [&](void (*mutate)(NodeContainer&)) {
    NodeContainer c = a;
    mutate(c);
    return !SameDesiredState(a, c);
  };
#define EXPECT_DIFFERS(...) \
  EXPECT_TRUE(differs([](NodeContainer& c) { __VA_ARGS__; })) << #__VA_ARGS__
  EXPECT_DIFFERS(c.metadata.name = "x");
  EXPECT_DIFFERS(c.spec.image = "x");
  EXPECT_DIFFERS(c.metadata.namespace_ = "x");
  EXPECT_DIFFERS(c.metadata.labels["k"] = "v");
  EXPECT_DIFFERS(c.metadata.annotations["k"] = "v");
  EXPECT_DIFFERS(c.metadata.generation = 2);
  EXPECT_DIFFERS(c.spec.command = {"sh"});
  EXPECT_DIFFERS(c.spec.args = {"-c"});
  EXPECT_DIFFERS(c.spec.env[0].value = "2");
  EXPECT_DIFFERS(c.spec.env.push_back({"B", ""}));
  EXPECT_DIFFERS(c.spec.working_dir = "/w");
  EXPECT_DIFFERS(c.spec.run_as_user = 0);
  EXPECT_DIFFERS(c.spec.run_as_group = 0);
  EXPECT_DIFFERS(c.spec.limits.cpu_millis = 1);
  EXPECT_DIFFERS(c.spec.limits.memory_bytes = 1);
  EXPECT_DIFFERS(c.spec.limits.pids = 1);
  EXPECT_DIFFERS(c.spec.mounts[0].read_only = true);
  EXPECT_DIFFERS(c.spec.mounts[0].host_path.reset());
  EXPECT_DIFFERS(c.spec.mounts[0].tmpfs_size_bytes = 0);
  EXPECT_DIFFERS(c.spec.mounts[0].mount_path = "/d");
  EXPECT_DIFFERS(c.spec.restart_policy = RestartPolicy::kNever);
  EXPECT_DIFFERS(c.spec.stop_signal = 9);
  EXPECT_DIFFERS(c.spec.termination_grace_period_seconds = 1);
  EXPECT_DIFFERS(c.spec.node_name = "n");
  EXPECT_DIFFERS(c.spec.node_selector["k"] = "v");
  EXPECT_DIFFERS(c.spec.host_network = true);
  EXPECT_DIFFERS(c.metadata.uid = "u");
  EXPECT_DIFFERS(c.metadata.resource_version = "1");
  EXPECT_DIFFERS(c.spec.ports.push_back({"http", 80, 8080, "", Protocol::kTcp}));
  EXPECT_DIFFERS(c.spec.hostname = "h");
  EXPECT_DIFFERS(c.spec.dns_policy = DnsPolicy::kNone);
  EXPECT_DIFFERS(c.spec.dns_config = DnsConfig{{"192.0.2.1"}, {}, {}});
  EXPECT_DIFFERS(c.spec.host_aliases.push_back({"192.0.2.2", {"db"}}));
  EXPECT_DIFFERS(c.spec.liveness_probe = Probe{});
  EXPECT_DIFFERS(c.spec.readiness_probe = Probe{});
  EXPECT_DIFFERS(c.spec.startup_probe = Probe{});
  EXPECT_DIFFERS(c.spec.lifecycle.pre_stop = Handler{});
  EXPECT_DIFFERS(c.spec.lifecycle.post_start = Handler{});
#undef EXPECT_DIFFERS
}

TEST(ManifestSourceTest, SameDesiredStateLooksIntoProbesAndHooks) {
  NodeContainer a;
  a.metadata.name = "web";
  a.spec.image = "busybox";
  a.spec.readiness_probe.emplace().handler.http_get.emplace().port.number = 80;
  a.spec.lifecycle.pre_stop.emplace().exec.emplace().command = {"sh", "-c", "drain"};
  NodeContainer b = a;
  EXPECT_TRUE(SameDesiredState(a, b));
  b.spec.readiness_probe->handler.http_get->path = "/ready";
  EXPECT_FALSE(SameDesiredState(a, b));
  b = a;
  b.spec.readiness_probe->period_seconds = 1;
  EXPECT_FALSE(SameDesiredState(a, b));
  b = a;
  b.spec.lifecycle.pre_stop->exec->command = {"true"};
  EXPECT_FALSE(SameDesiredState(a, b));
}

#if defined(__GLIBCXX__) && defined(__x86_64__)
// Guard: SameDesiredState lists every field of node_container.h. When a struct
// there changes, update SameDesiredState (and the test above), then these.
TEST(ManifestSourceTest, EqualityCoversAllFields) {
  EXPECT_EQ(sizeof(ObjectMeta), 288u);
  EXPECT_EQ(sizeof(NodeContainerSpec), 472u);
  EXPECT_EQ(sizeof(ContainerPort), 80u);
  EXPECT_EQ(sizeof(DnsConfig), 72u);
  EXPECT_EQ(sizeof(DnsOption), 72u);
  EXPECT_EQ(sizeof(HostAlias), 56u);
  EXPECT_EQ(sizeof(Mount), 96u);
  EXPECT_EQ(sizeof(EnvVar), 64u);
  EXPECT_EQ(sizeof(ResourceLimits), 24u);
  EXPECT_EQ(sizeof(NodeContainer), 824u);
}
#endif

// What a watched source pushes.
class Pushes : public Source::Handler {
 public:
  void OnChange(const std::string& id) override {
    absl::MutexLock l(&mu_);
    ids_.push_back(id);
  }
  void OnResync() override {
    absl::MutexLock l(&mu_);
    ++resyncs_;
  }
  std::vector<std::string> TakeIds() {
    absl::MutexLock l(&mu_);
    return std::exchange(ids_, {});
  }
  int resyncs() {
    absl::MutexLock l(&mu_);
    return resyncs_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
  int resyncs_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(ManifestSourceWatchTest, RescanPushesChangedIdsAndAResyncWhenMayRemoveMayAnswerOtherwise) {
  TempDir dir;
  WriteFile(dir / "a.yaml", Manifest("a"));
  ManifestSource source(dir.path());
  source.Scan();
  Pushes pushes;
  source.Watch(&pushes);
  source.Rescan();
  EXPECT_THAT(pushes.TakeIds(), IsEmpty());
  EXPECT_EQ(pushes.resyncs(), 0);

  WriteFile(dir / "b.yaml", Manifest("b"));
  WriteFile(dir / "a.yaml", Manifest("a", "alpine"));
  source.Resync();  // the periodic resync rescans too
  EXPECT_THAT(pushes.TakeIds(), ElementsAre("default.a", "default.b"));
  EXPECT_EQ(pushes.resyncs(), 0);

  // A broken file: its objects stay, and containers it does not hold may
  // now be kept: everything is looked at again.
  WriteFile(dir / "b.yaml", "kind: [");
  source.Rescan();
  EXPECT_THAT(pushes.TakeIds(), IsEmpty());
  EXPECT_EQ(pushes.resyncs(), 1);
  source.Rescan();  // still broken: no change
  EXPECT_EQ(pushes.resyncs(), 1);
  WriteFile(dir / "b.yaml", Manifest("b"));
  source.Rescan();
  EXPECT_EQ(pushes.resyncs(), 2);
}

TEST(ManifestSourceWatchTest, StartWatchesTheDirectoryAndStopEndsThePushes) {
  TempDir dir;
  ManifestSource source(dir.path());
  source.Scan();
  Pushes pushes;
  source.Watch(&pushes);
  WriteFile(dir / "a.yaml", Manifest("a"));  // before Start: pushed by its rescan
  source.Start(absl::Milliseconds(10));
  EXPECT_THAT(pushes.TakeIds(), ElementsAre("default.a"));
  WriteFile(dir / "b.yaml", Manifest("b"));
  std::vector<std::string> seen;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (seen.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    seen = pushes.TakeIds();
  }
  EXPECT_THAT(seen, ElementsAre("default.b"));
  source.Stop();
  WriteFile(dir / "c.yaml", Manifest("c"));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_THAT(pushes.TakeIds(), IsEmpty());
  source.Stop();  // idempotent
}

}  // namespace
}  // namespace berth::controller
