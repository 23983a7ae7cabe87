// Small helpers shared by RuncRuntime's files (runc_runtime.cc, runc_create.cc,
// runc_teardown.cc, runc_recovery.cc); not for other callers.
#ifndef BERTH_RUNTIME_RUNC_INTERNAL_H_
#define BERTH_RUNTIME_RUNC_INTERNAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::runtime {

// `s` with its code kept and its message as
// "<action> container <id>: <step>: <message>".
absl::Status WithContext(absl::string_view action, const std::string& id, absl::string_view step,
                         const absl::Status& s);

bool IsDirectory(const std::string& path);

// Detaches the mount on `path`; OK when nothing is mounted there.
absl::Status Unmount(const std::string& path);

// Keeps the first error of a sequence of steps that all run: `*first`
// becomes `s` unless it is already an error.
void Keep(absl::Status* first, absl::Status s);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_RUNC_INTERNAL_H_
