// Who is calling berthd's local API, and what they may do.
//
// The caller of a unix socket connection is known from the kernel
// (SO_PEERCRED: pid, uid, gid at connect time); its supplementary groups
// are read from /proc/<pid>/status when the connection is accepted.
//
// Access, from the least to the most:
//   kNone   not root, not in the socket's group, not in the admin group
//   kRead   the socket's group (or the admin group): Version, List, Get,
//           Watch, Events, Logs, Stats, Plan
//   kAdmin  root (uid 0) or the admin group: everything, Exec, Restart,
//           Apply and Delete included
// A group of -1 is no group: nobody is in it.
#ifndef BERTH_CONTROLLER_API_PEER_AUTH_H_
#define BERTH_CONTROLLER_API_PEER_AUTH_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::api {

struct Caller {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups

  bool InGroup(gid_t group) const;
  // "uid 1000 (pid 4242)", for messages and logs.
  std::string Describe() const;
};

enum class Access { kNone, kRead, kAdmin };

// The caller of a connected unix socket.
absl::StatusOr<Caller> PeerOf(int fd);

// The groups of a running process (the "Groups:" line of
// /proc/<pid>/status); empty when it cannot be read (the process is gone).
std::vector<gid_t> SupplementaryGroupsOf(pid_t pid);

// -1 as gid_t: no group.
inline constexpr gid_t kNoGroup = static_cast<gid_t>(-1);

Access AccessOf(const Caller& caller, gid_t read_group, gid_t admin_group);

// The gid of a group given by name or number; kNoGroup for "".
absl::StatusOr<gid_t> ResolveGroup(const std::string& name_or_gid);

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_PEER_AUTH_H_
