// A fresh temporary directory for a test, removed (with all it holds) when
// the owner goes. Header-only, so that test libraries of any layer can use
// it with nothing more than runtime/sys.
#ifndef BERTH_TESTS_TEMP_DIR_H_
#define BERTH_TESTS_TEMP_DIR_H_

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"

namespace berth::testing {

class TempDir {
 public:
  // Under $TMPDIR (or /tmp), named <prefix>.XXXXXX.
  explicit TempDir(const std::string& prefix = "berth-test") {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix, ".XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << templ << ": " << strerror(errno);
      return;
    }
    path_ = templ;
  }
  ~TempDir() {
    if (path_.empty()) return;
    if (absl::Status s = runtime::RemoveTree(path_); !s.ok()) {
      ADD_FAILURE() << "remove " << path_ << ": " << s;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace berth::testing

#endif  // BERTH_TESTS_TEMP_DIR_H_
