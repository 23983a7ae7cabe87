// Helpers for the manifest source and directory watcher tests: a temporary
// directory, files in it, and minimal NodeContainer manifests.
#ifndef BERTH_CONTROLLER_MANIFEST_TEST_UTIL_H_
#define BERTH_CONTROLLER_MANIFEST_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/manifest_source.h"
#include "gtest/gtest.h"

namespace berth::controller::test_util {

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-source-XXXXXX");
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << tmpl;
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
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

#endif  // BERTH_CONTROLLER_MANIFEST_TEST_UTIL_H_
