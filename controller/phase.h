// The phase Berth reports for a NodeContainer (status files and the API
// keep its name, a string).
#ifndef BERTH_CONTROLLER_PHASE_H_
#define BERTH_CONTROLLER_PHASE_H_

namespace berth::controller {

enum class Phase {
  kPending,           // not created yet (waiting for its image, say)
  kRunning,           // its process runs
  kSucceeded,         // exited 0 and is not restarted
  kFailed,            // exited otherwise and is not restarted
  kCrashLoopBackOff,  // exited; restarted once its back-off delay passes
  kError,             // could not be created or started
};

// "Pending", "Running", "Succeeded", "Failed", "CrashLoopBackOff", "Error".
inline const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPending: return "Pending";
    case Phase::kRunning: return "Running";
    case Phase::kSucceeded: return "Succeeded";
    case Phase::kFailed: return "Failed";
    case Phase::kCrashLoopBackOff: return "CrashLoopBackOff";
    case Phase::kError: return "Error";
  }
  return "Unknown";
}

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_PHASE_H_
