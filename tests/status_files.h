// berthd's status files (<state-dir>/status/<id>.json) as tests read them.
#ifndef BERTH_TESTS_STATUS_FILES_H_
#define BERTH_TESTS_STATUS_FILES_H_

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

// The status says Running, with a pid.
inline bool IsRunning(const nlohmann::json& status) {
  return status["phase"] == "Running" && status.contains("pid");
}

}  // namespace berth::testing

#endif  // BERTH_TESTS_STATUS_FILES_H_
