// berthd's status files (<state-dir>/status/<id>.json) as tests read them.
#ifndef BERTH_TESTS_STATUS_FILES_H_
#define BERTH_TESTS_STATUS_FILES_H_

#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "tests/test_env.h"

namespace berth::testing {

// The status of `id`; null when there is none (or it is not JSON yet).
inline nlohmann::json ReadStatusFile(const std::string& berth_state_dir, const std::string& id) {
  auto s = runtime::ReadFile(berth_state_dir + "/status/" + id + ".json");
  if (!s.ok()) return nullptr;
  nlohmann::json j = nlohmann::json::parse(*s, nullptr, false);
  return j.is_discarded() ? nullptr : j;
}

// Waits until the status of `id` satisfies `pred`; returns the last status
// (a test failure when it never did).
template <typename Pred>
nlohmann::json WaitStatusFile(const std::string& berth_state_dir, const std::string& id, Pred pred,
                              absl::Duration timeout) {
  nlohmann::json last;
  bool ok = WaitFor(
      [&] {
        last = ReadStatusFile(berth_state_dir, id);
        return !last.is_null() && pred(last);
      },
      timeout);
  EXPECT_TRUE(ok) << "status of " << id << " never matched; last: " << last.dump();
  return last;
}

// Waits until berthd rewrote the status file of `id` after `since` (a new
// berthd writes each one once it has reconciled it); a test failure when it
// never did.
inline void WaitStatusFileWrittenAfter(const std::string& berth_state_dir, const std::string& id,
                                       absl::Time since, absl::Duration timeout) {
  const std::string path = berth_state_dir + "/status/" + id + ".json";
  EXPECT_TRUE(WaitFor(
      [&] {
        struct stat st;
        return stat(path.c_str(), &st) == 0 && absl::TimeFromTimespec(st.st_mtim) > since;
      },
      timeout))
      << id << " was not reconciled";
}

// Puts `content` in `dir`/`file` as an editor saves: a temporary file
// renamed over the old one.
inline void WriteManifestFile(const std::string& dir, const std::string& file,
                              const std::string& content) {
  const std::string tmp = dir + "/." + file + ".swp";
  ASSERT_TRUE(runtime::WriteFileAtomic(tmp, content).ok());
  ASSERT_EQ(rename(tmp.c_str(), (dir + "/" + file).c_str()), 0);
}

// The status says Running, with a pid.
inline bool IsRunning(const nlohmann::json& status) {
  return status["phase"] == "Running" && status.contains("pid");
}

}  // namespace berth::testing

#endif  // BERTH_TESTS_STATUS_FILES_H_
