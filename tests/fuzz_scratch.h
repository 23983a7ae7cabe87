// The scratch directory of a fuzz target that writes files: made once under
// $BERTH_FUZZ_SCRATCH, else $TMPDIR, else /tmp, and removed at exit.
#ifndef BERTH_TESTS_FUZZ_SCRATCH_H_
#define BERTH_TESTS_FUZZ_SCRATCH_H_

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace berth::testing {

// <base>/berth-<name>-XXXXXX, the same directory at every call; aborts (a
// fuzz target cannot go on) when it cannot be made.
inline const std::string& FuzzScratchDir(const char* name) {
  // Never destroyed: it is made after its exit handler is registered, so
  // as a static string it would be gone before the handler runs.
  static const std::string* const dir = [name] {
    const char* base = std::getenv("BERTH_FUZZ_SCRATCH");
    if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
    if (base == nullptr || *base == '\0') base = "/tmp";
    std::error_code ignored;
    std::filesystem::create_directories(base, ignored);
    std::string templ = std::string(base) + "/berth-" + name + "-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      std::fprintf(stderr, "%s: mkdtemp %s: %s\n", name, templ.c_str(), std::strerror(errno));
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(*dir, ignored);
    });
    return new std::string(templ);
  }();
  return *dir;
}

}  // namespace berth::testing

#endif  // BERTH_TESTS_FUZZ_SCRATCH_H_
