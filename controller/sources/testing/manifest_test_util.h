// Helpers for the manifest source and directory watcher tests: a temporary
// directory, files in it, and minimal NodeContainer manifests.
#ifndef BERTH_CONTROLLER_SOURCES_TESTING_MANIFEST_TEST_UTIL_H_
#define BERTH_CONTROLLER_SOURCES_TESTING_MANIFEST_TEST_UTIL_H_

#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/sources/manifest_source.h"
#include "gtest/gtest.h"
#include "tests/temp_dir.h"

namespace berth::controller::test_util {

// A fresh temporary directory, removed at the end; `dir / "name"` is a path
// in it.
class TempDir : public ::berth::testing::TempDir {
 public:
  TempDir() : ::berth::testing::TempDir("berth-source") {}
  std::string operator/(const std::string& name) const { return path() + "/" + name; }
};

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  ASSERT_TRUE(out.good()) << "write " << path;
}

inline std::string Manifest(const std::string& name, const std::string& image = "busybox",
                            const std::string& ns = "") {
  std::string meta = ns.empty() ? absl::StrCat("{name: ", name, "}")
                                : absl::StrCat("{name: ", name, ", namespace: ", ns, "}");
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\n", "kind: NodeContainer\n",
                      "metadata: ", meta, "\n", "spec: {image: ", image,
                      ", command: [sleep, \"1000\"]}\n");
}

inline std::string ImageOf(const ManifestSource& source, const std::string& id) {
  std::optional<NodeContainer> obj = source.Get(id);
  return obj.has_value() ? obj->spec.image : "<absent>";
}

}  // namespace berth::controller::test_util

#endif  // BERTH_CONTROLLER_SOURCES_TESTING_MANIFEST_TEST_UTIL_H_
