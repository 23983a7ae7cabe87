#include "runtime/state_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

int64_t ToNanos(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixNanos(t);
}
absl::Time FromNanos(int64_t n) { return n == 0 ? absl::InfinitePast() : absl::FromUnixNanos(n); }

absl::StatusOr<RecordPhase> ParsePhase(const std::string& s) {
  for (RecordPhase p : {RecordPhase::kCreating, RecordPhase::kCreated, RecordPhase::kStarted,
                        RecordPhase::kDeleting}) {
    if (s == RecordPhaseName(p)) return p;
  }
  return absl::DataLossError(absl::StrCat("unknown phase \"", s, "\""));
}

}  // namespace

const char* RecordPhaseName(RecordPhase phase) {
  switch (phase) {
    case RecordPhase::kCreating: return "creating";
    case RecordPhase::kCreated: return "created";
    case RecordPhase::kStarted: return "started";
    case RecordPhase::kDeleting: return "deleting";
  }
  return "unknown";
}

StateStore::StateStore(std::string root) : root_(std::move(root)) {}

absl::Status StateStore::Init() { return MakeDirs(root_, 0700); }

std::string StateStore::ContainerDir(const std::string& id) const {
  return absl::StrCat(root_, "/", id);
}

absl::Status StateStore::CreateDir(const std::string& id) const {
  if (mkdir(ContainerDir(id).c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("create container ", id, ": already exists"));
    }
    return absl::ErrnoToStatus(errno, absl::StrCat("create container ", id, ": mkdir ",
                                                   ContainerDir(id)));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Write(const ContainerRecord& r) const {
  json j = {
      {"version", ContainerRecord::kVersion},
      {"spec", r.spec},
      {"phase", RecordPhaseName(r.phase)},
      {"cgroups_path", r.cgroups_path},
      {"monitor_pid", r.monitor_pid},
      {"monitor_start_time", r.monitor_start_time},
      {"pid", r.pid},
      {"pid_start_time", r.pid_start_time},
      {"created_at", ToNanos(r.created_at)},
      {"started_at", ToNanos(r.started_at)},
      {"boot_id", CurrentBootId()},
  };
  // Like runc's own state: atomic against a crash of Berth; containers do
  // not outlive a power loss, so there is nothing to fsync for.
  // What was cached of the file this replaces goes, also what a read while
  // it was replaced put there.
  auto forget = [&] {
    absl::MutexLock l(&cache_mu_);
    cache_.erase(r.spec.id);
  };
  forget();
  absl::Status written =
      WriteFileAtomic(ContainerDir(r.spec.id) + "/state.json", j.dump(), Durability::kAtomic);
  forget();
  return written;
}

absl::StatusOr<ContainerRecord> StateStore::Read(const std::string& id) const {
  const std::string path = ContainerDir(id) + "/state.json";
  // A record is replaced by renaming a new file into place: the same inode,
  // modification time and size is the same record, parsed already.
  struct stat st;
  const bool stated = stat(path.c_str(), &st) == 0;
  const FileKey key = stated ? FileKey{st.st_dev, st.st_ino, absl::TimeFromTimespec(st.st_mtim),
                                       absl::TimeFromTimespec(st.st_ctim), st.st_size}
                             : FileKey{};
  if (stated) {
    absl::MutexLock l(&cache_mu_);
    auto it = cache_.find(id);
    if (it != cache_.end() && it->second.key == key) return it->second.record;
  }
  absl::StatusOr<ContainerRecord> r = Parse(id, path);
  absl::MutexLock l(&cache_mu_);
  if (stated && r.ok()) {
    cache_.insert_or_assign(id, Cached{key, *r});
  } else {
    cache_.erase(id);
  }
  return r;
}

absl::StatusOr<ContainerRecord> StateStore::Parse(const std::string& id,
                                                  const std::string& path) const {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) {
    if (absl::IsNotFound(content.status())) {
      return absl::NotFoundError(absl::StrCat("read container ", id, ": no record at ", path));
    }
    return content.status();
  }
  json j = json::parse(*content, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat("read container ", id, ": ", path, " is not JSON"));
  }
  int version = j.value("version", 0);
  if (version != ContainerRecord::kVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "read container ", id, ": record version ", version, ", this build reads version ",
        ContainerRecord::kVersion));
  }
  ContainerRecord r;
  try {
    r.spec = j.at("spec").get<ContainerSpec>();
    absl::StatusOr<RecordPhase> phase = ParsePhase(j.at("phase").get<std::string>());
    if (!phase.ok()) return phase.status();
    r.phase = *phase;
    r.cgroups_path = j.at("cgroups_path").get<std::string>();
    r.monitor_pid = j.at("monitor_pid").get<pid_t>();
    r.monitor_start_time = j.at("monitor_start_time").get<uint64_t>();
    r.pid = j.at("pid").get<pid_t>();
    r.pid_start_time = j.at("pid_start_time").get<uint64_t>();
    r.created_at = FromNanos(j.at("created_at").get<int64_t>());
    r.started_at = FromNanos(j.at("started_at").get<int64_t>());
    r.boot_id = j.value("boot_id", "");
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("read container ", id, ": ", path, ": ", e.what()));
  }
  if (r.boot_id != CurrentBootId()) {
    r.pid = r.monitor_pid = 0;
    r.pid_start_time = r.monitor_start_time = 0;
  }
  if (r.spec.id != id) {
    return absl::DataLossError(
        absl::StrCat("read container ", id, ": ", path, " names container ", r.spec.id));
  }
  return r;
}

std::optional<ExitRecord> StateStore::ReadExit(const std::string& id) const {
  absl::StatusOr<std::string> content = ReadFile(ExitFile(id));
  if (!content.ok()) return std::nullopt;
  json j = json::parse(*content, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  ExitRecord e;
  e.exit_code = j.value("exit_code", -1);
  e.signal = j.value("signal", 0);
  e.oom_killed = j.value("oom_killed", false);
  e.finished_at = FromNanos(j.value("finished_at_unix_nano", int64_t{0}));
  return e;
}

pid_t StateStore::ReadMonitorPid(const std::string& id) const {
  absl::StatusOr<std::string> content = ReadFile(MonitorPidFile(id), 64);
  pid_t pid = 0;
  if (!content.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*content), &pid)) return 0;
  return pid;
}

std::vector<std::string> StateStore::ListEntries() const {
  std::vector<std::string> out;
  DIR* d = opendir(root_.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    out.push_back(std::move(name));
  }
  closedir(d);
  // Records of containers that are gone leave the cache.
  const std::set<std::string> present(out.begin(), out.end());
  absl::MutexLock l(&cache_mu_);
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = present.count(it->first) != 0 ? std::next(it) : cache_.erase(it);
  }
  return out;
}

}  // namespace berth::runtime
