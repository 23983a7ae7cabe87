#include "runtime/state_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "runtime/sys/small_file.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

int64_t ToNanos(absl::Time t) { return t == absl::InfinitePast() ? 0 : absl::ToUnixNanos(t); }
absl::Time FromNanos(int64_t n) { return n == 0 ? absl::InfinitePast() : absl::FromUnixNanos(n); }

absl::StatusOr<RecordPhase> ParsePhase(const std::string& s) {
  for (RecordPhase p : {RecordPhase::kCreating, RecordPhase::kCreated, RecordPhase::kStarted,
                        RecordPhase::kDeleting}) {
    if (s == RecordPhaseName(p)) return p;
  }
  return absl::DataLossError(absl::StrCat("unknown phase \"", s, "\""));
}

// The record's form of a ContainerSpec (record version 1). Field names and
// value types are part of the on-disk format: changing them needs a new
// record version.
json MountToJson(const MountSpec& m) {
  return {{"type", m.type == MountSpec::Type::kTmpfs ? "tmpfs" : "bind"},
          {"source", m.source},
          {"destination", m.destination},
          {"read_only", m.read_only},
          {"size_bytes", m.size_bytes}};
}

MountSpec MountFromJson(const json& j) {
  MountSpec m;
  m.type =
      j.at("type").get<std::string>() == "tmpfs" ? MountSpec::Type::kTmpfs : MountSpec::Type::kBind;
  m.source = j.at("source").get<std::string>();
  m.destination = j.at("destination").get<std::string>();
  m.read_only = j.at("read_only").get<bool>();
  m.size_bytes = j.at("size_bytes").get<int64_t>();
  return m;
}

// Networking fields, written only when set: a record without them reads
// the same in a release that does not know them.
void NetworkToJson(const ContainerSpec& s, json* j) {
  if (!s.ports.empty()) {
    json ports = json::array();
    for (const PortMapping& p : s.ports) {
      ports.push_back({{"host_port", p.host_port},
                       {"container_port", p.container_port},
                       {"protocol", p.protocol},
                       {"host_ip", p.host_ip}});
    }
    (*j)["ports"] = std::move(ports);
  }
  if (!s.host_aliases.empty()) {
    json aliases = json::array();
    for (const HostEntry& e : s.host_aliases) {
      aliases.push_back({{"ip", e.ip}, {"hostnames", e.hostnames}});
    }
    (*j)["host_aliases"] = std::move(aliases);
  }
  if (!s.cni_args.empty()) (*j)["cni_args"] = s.cni_args;  // [[key, value], ...]
  if (s.dns.has_value()) {
    (*j)["dns"] = {{"nameservers", s.dns->nameservers},
                   {"searches", s.dns->searches},
                   {"options", s.dns->options}};
  }
}

void NetworkFromJson(const json& j, ContainerSpec* s) {
  if (j.contains("ports")) {
    for (const json& p : j.at("ports")) {
      s->ports.push_back({p.at("host_port").get<int32_t>(), p.at("container_port").get<int32_t>(),
                          p.at("protocol").get<std::string>(), p.at("host_ip").get<std::string>()});
    }
  }
  if (j.contains("host_aliases")) {
    for (const json& e : j.at("host_aliases")) {
      s->host_aliases.push_back(
          {e.at("ip").get<std::string>(), e.at("hostnames").get<std::vector<std::string>>()});
    }
  }
  if (j.contains("cni_args")) {
    s->cni_args = j.at("cni_args").get<std::vector<std::pair<std::string, std::string>>>();
  }
  if (j.contains("dns")) {
    const json& d = j.at("dns");
    s->dns = DnsSettings{d.at("nameservers").get<std::vector<std::string>>(),
                         d.at("searches").get<std::vector<std::string>>(),
                         d.at("options").get<std::vector<std::string>>()};
  }
}

json SpecToJson(const ContainerSpec& s) {
  json mounts = json::array();
  for (const MountSpec& m : s.mounts) mounts.push_back(MountToJson(m));
  json j = {{"id", s.id},
            {"rootfs_layers", s.rootfs_layers},
            {"args", s.args},
            {"env", s.env},
            {"working_dir", s.working_dir},
            {"uid", s.uid},
            {"gid", s.gid},
            {"hostname", s.hostname},
            {"memory_bytes", s.resources.memory_bytes},
            {"cpu_millis", s.resources.cpu_millis},
            {"pids", s.resources.pids},
            {"mounts", std::move(mounts)},
            {"stop_signal", s.stop_signal},
            {"host_network", s.host_network},
            {"host_pid", s.host_pid},
            {"labels", s.labels},
            {"annotations", s.annotations},
            {"log_max_bytes", s.log_max_bytes},
            {"log_max_files", s.log_max_files}};
  NetworkToJson(s, &j);
  return j;
}

// Throws json::exception on a missing field or a wrong type.
ContainerSpec SpecFromJson(const json& j) {
  ContainerSpec s;
  s.id = j.at("id").get<std::string>();
  // Records written before layers name one directory as "rootfs".
  if (j.contains("rootfs_layers")) {
    s.rootfs_layers = j.at("rootfs_layers").get<std::vector<std::string>>();
  } else {
    s.rootfs_layers = {j.at("rootfs").get<std::string>()};
  }
  s.args = j.at("args").get<std::vector<std::string>>();
  s.env = j.at("env").get<std::vector<std::string>>();
  s.working_dir = j.at("working_dir").get<std::string>();
  s.uid = j.at("uid").get<uint32_t>();
  s.gid = j.at("gid").get<uint32_t>();
  s.hostname = j.at("hostname").get<std::string>();
  s.resources.memory_bytes = j.at("memory_bytes").get<int64_t>();
  s.resources.cpu_millis = j.at("cpu_millis").get<int64_t>();
  s.resources.pids = j.at("pids").get<int64_t>();
  for (const json& m : j.at("mounts").get<std::vector<json>>()) {
    s.mounts.push_back(MountFromJson(m));
  }
  s.stop_signal = j.at("stop_signal").get<int>();
  s.host_network = j.at("host_network").get<bool>();
  s.host_pid = j.at("host_pid").get<bool>();
  s.labels = j.at("labels").get<std::map<std::string, std::string>>();
  s.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
  s.log_max_bytes = j.at("log_max_bytes").get<int64_t>();
  s.log_max_files = j.at("log_max_files").get<int>();
  NetworkFromJson(j, &s);
  return s;
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
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("create container ", id, ": mkdir ", ContainerDir(id)));
  }
  return absl::OkStatus();
}

absl::Status StateStore::Write(const ContainerRecord& r) const {
  json j = {
      {"version", ContainerRecord::kVersion},
      {"spec", SpecToJson(r.spec)},
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
  if (!r.netns_path.empty()) j["netns_path"] = r.netns_path;
  if (!r.ip.empty()) j["ip"] = r.ip;
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
  return Parse(id, ContainerDir(id) + "/state.json");
}

RecordSummary SummaryOf(const ContainerRecord& r) {
  RecordSummary s;
  s.phase = r.phase;
  s.labels = r.spec.labels;
  for (const auto& [key, value] : r.spec.annotations) {
    for (const std::string* part : {&key, &value}) {
      const uint32_t n = static_cast<uint32_t>(part->size());
      s.packed_annotations.append(reinterpret_cast<const char*>(&n), sizeof(n));
      s.packed_annotations.append(*part);
    }
  }
  s.packed_annotations.shrink_to_fit();
  s.ports = r.spec.ports;
  s.cgroups_path = r.cgroups_path;
  s.monitor_pid = r.monitor_pid;
  s.monitor_start_time = r.monitor_start_time;
  s.pid = r.pid;
  s.pid_start_time = r.pid_start_time;
  s.created_at = r.created_at;
  s.started_at = r.started_at;
  s.ip = r.ip;
  return s;
}

std::map<std::string, std::string> RecordSummary::Annotations() const {
  std::map<std::string, std::string> out;
  size_t at = 0;
  // Reads the next length-prefixed part; false at the end.
  auto next = [&](std::string* part) {
    uint32_t n = 0;
    if (packed_annotations.size() - at < sizeof(n)) return false;
    std::memcpy(&n, packed_annotations.data() + at, sizeof(n));
    at += sizeof(n);
    if (packed_annotations.size() - at < n) return false;
    part->assign(packed_annotations, at, n);
    at += n;
    return true;
  };
  std::string key, value;
  while (next(&key) && next(&value)) out.emplace_hint(out.end(), std::move(key), std::move(value));
  return out;
}

absl::StatusOr<RecordSummary> StateStore::ReadSummary(const std::string& id) const {
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
    if (it != cache_.end() && it->second.key == key) return it->second.summary;
  }
  absl::StatusOr<ContainerRecord> r = Parse(id, path);
  absl::MutexLock l(&cache_mu_);
  if (!r.ok()) {
    cache_.erase(id);
    return r.status();
  }
  RecordSummary summary = SummaryOf(*r);
  if (stated) {
    cache_.insert_or_assign(id, Cached{key, summary});
  } else {
    cache_.erase(id);
  }
  return summary;
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
    return absl::FailedPreconditionError(absl::StrCat("read container ", id, ": record version ",
                                                      version, ", this build reads version ",
                                                      ContainerRecord::kVersion));
  }
  ContainerRecord r;
  try {
    r.spec = SpecFromJson(j.at("spec"));
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
    r.netns_path = j.value("netns_path", "");
    r.ip = j.value("ip", "");
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
  // Absent for every running container at every relist: no error text.
  std::optional<std::string> content = ReadSmallFile(ExitFile(id), 64 << 10);
  if (!content.has_value()) return std::nullopt;
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
