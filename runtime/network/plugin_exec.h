// Running one CNI plugin binary the way the CNI spec says a runtime does:
// the network configuration on stdin, the parameters in the environment,
// the result (or error) on stdout. Nothing the plugin starts outlives the
// call: it runs in a process group of its own that is killed at the end.
#ifndef BERTH_RUNTIME_NETWORK_PLUGIN_EXEC_H_
#define BERTH_RUNTIME_NETWORK_PLUGIN_EXEC_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::runtime::network {

struct PluginOutput {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs the executable `path` with the caller's environment overlaid by
// `env` (CNI_COMMAND, CNI_CONTAINERID, ...) and `input` on its stdin;
// waits for it and everything it left in its process group (up to 2 s more
// for what the final SIGKILL of the group is still ending). Each stream
// keeps its first MiB. kDeadlineExceeded (the group killed) when it runs
// past `timeout`; an error starting it keeps the code of the errno.
absl::StatusOr<PluginOutput> RunPlugin(const std::string& path,
                                       const std::map<std::string, std::string>& env,
                                       absl::string_view input, absl::Duration timeout);

}  // namespace berth::runtime::network

#endif  // BERTH_RUNTIME_NETWORK_PLUGIN_EXEC_H_
