// Fault injectors for the runtime's named create steps (kCreateSteps): one
// that fails a step, one that stops the process at a step until it is
// killed (a crash mid-create, for the recovery tests).
#ifndef BERTH_TESTS_FAULT_INJECTORS_H_
#define BERTH_TESTS_FAULT_INJECTORS_H_

#include <unistd.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "runtime/runtime.h"

namespace berth::runtime {

// Fails `step` with kUnavailable; every other step passes.
class FailAt : public FaultInjector {
 public:
  explicit FailAt(std::string step) : step_(std::move(step)) {}
  absl::Status Check(absl::string_view step) override {
    if (step == step_) return absl::UnavailableError(absl::StrCat("injected fault at ", step));
    return absl::OkStatus();
  }

 private:
  std::string step_;
};

// At `step`, writes a line to `ready_fd` and waits to be killed.
class BlockAt : public FaultInjector {
 public:
  BlockAt(std::string step, int ready_fd) : step_(std::move(step)), ready_fd_(ready_fd) {}
  absl::Status Check(absl::string_view step) override {
    if (step == step_) {
      (void)!write(ready_fd_, "0\n", 2);
      while (true) pause();
    }
    return absl::OkStatus();
  }

 private:
  std::string step_;
  int ready_fd_;
};

}  // namespace berth::runtime

#endif  // BERTH_TESTS_FAULT_INJECTORS_H_
