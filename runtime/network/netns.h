// Network namespaces kept as files (containerd's pkg/netns, `ip netns`): a
// new namespace's nsfs file bind-mounted onto an empty file in a
// directory, so that it lives without a process in it and runc can join
// it by path.
#ifndef BERTH_RUNTIME_NETWORK_NETNS_H_
#define BERTH_RUNTIME_NETWORK_NETNS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::runtime::network {

// Creates the directory `dir` if needed and a new network namespace at
// <dir>/<name> (a thread of this process unshares its network namespace,
// bind-mounts it there and ends; the caller's threads keep theirs). The
// namespace has only its loopback device, up. kAlreadyExists when the file
// is there. On failure nothing is left.
absl::StatusOr<std::string> CreateNetns(const std::string& dir, const std::string& name);

// Unmounts and removes the namespace file `path`. OK when it is not there,
// or not mounted (a file left by a crash between creating and mounting).
absl::Status RemoveNetns(const std::string& path);

// Moves the calling process (which must have one thread: call it first in
// main or before main) into a new network namespace with its loopback up:
// what it and the processes it starts do on the network stays there. For
// tests and benchmarks that bring up bridges and firewall rules.
absl::Status EnterNewNetns();

// The names of the entries in `dir` (empty when it does not exist).
std::vector<std::string> ListNetns(const std::string& dir);

// True when `path` is a mounted network namespace file.
bool IsNetns(const std::string& path);

}  // namespace berth::runtime::network

#endif  // BERTH_RUNTIME_NETWORK_NETNS_H_
