// Helpers for the spec parser tests: the test corpus and a minimal
// NodeContainer to extend.
#ifndef BERTH_CONTROLLER_SPEC_TESTING_SPEC_PARSER_TEST_UTIL_H_
#define BERTH_CONTROLLER_SPEC_TESTING_SPEC_PARSER_TEST_UTIL_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace berth::controller::test_util {

// A path below controller/testdata.
inline std::string TestdataPath(const std::string& relative) {
  return absl::StrCat(BERTH_TESTDATA_DIR, "/", relative);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// A valid NodeContainer "web" with `spec_extra` appended to its spec.
inline std::string WithSpec(const std::string& spec_extra) {
  return absl::StrCat(
      "apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\n"
      "metadata:\n  name: web\nspec:\n  image: busybox\n",
      spec_extra);
}

}  // namespace berth::controller::test_util

#endif  // BERTH_CONTROLLER_SPEC_TESTING_SPEC_PARSER_TEST_UTIL_H_
