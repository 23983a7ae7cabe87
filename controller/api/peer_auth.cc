#include "controller/api/peer_auth.h"

#include <grp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::api {

bool Caller::InGroup(gid_t group) const {
  if (group == kNoGroup) return false;
  return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

std::string Caller::Describe() const { return absl::StrCat("uid ", uid, " (pid ", pid, ")"); }

absl::StatusOr<Caller> PeerOf(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::InternalError(absl::StrCat("SO_PEERCRED: ", std::strerror(errno)));
  }
  Caller caller;
  caller.pid = cred.pid;
  caller.uid = cred.uid;
  caller.gid = cred.gid;
  caller.groups = SupplementaryGroupsOf(cred.pid);
  return caller;
}

std::vector<gid_t> SupplementaryGroupsOf(pid_t pid) {
  std::vector<gid_t> groups;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "Groups:")) continue;
    for (absl::string_view g : absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      uint32_t id;
      if (absl::SimpleAtoi(g, &id)) groups.push_back(id);
    }
    break;
  }
  return groups;
}

Access AccessOf(const Caller& caller, gid_t read_group, gid_t admin_group) {
  if (caller.uid == 0 || caller.InGroup(admin_group)) return Access::kAdmin;
  if (caller.InGroup(read_group)) return Access::kRead;
  return Access::kNone;
}

absl::StatusOr<gid_t> ResolveGroup(const std::string& name_or_gid) {
  if (name_or_gid.empty()) return kNoGroup;
  uint32_t id;
  if (absl::SimpleAtoi(name_or_gid, &id)) return id;
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  int err = getgrnam_r(name_or_gid.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (err != 0)
    return absl::InternalError(absl::StrCat("group ", name_or_gid, ": ", std::strerror(err)));
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("no group named ", name_or_gid));
  return found->gr_gid;
}

}  // namespace berth::api
