#include "controller/restart_memory.h"

#include <dirent.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/names.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

template <typename Map>
std::optional<typename Map::mapped_type> Lookup(const Map& map, const std::string& id) {
  auto it = map.find(id);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

std::optional<PendingRestart> ParsePending(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("restartCount") || !j["restartCount"].is_number_integer()) {
    return std::nullopt;
  }
  PendingRestart p;
  p.restart_count = j["restartCount"].get<int>();
  if (j.contains("lastExitCode")) {
    if (!j["lastExitCode"].is_number_integer()) return std::nullopt;
    p.last_exit_code = j["lastExitCode"].get<int>();
  }
  if (j.contains("lastExitReason")) {
    if (!j["lastExitReason"].is_string()) return std::nullopt;
    p.last_exit_reason = j["lastExitReason"].get<std::string>();
  }
  return p;
}

}  // namespace

RestartMemory::RestartMemory(RestartBackoff::Options options, std::string pending_dir)
    : options_(options),
      pending_dir_(std::move(pending_dir)),
      backoff_(options),
      pull_backoff_(options) {
  if (pending_dir_.empty()) return;
  DIR* d = opendir(pending_dir_.c_str());
  if (d == nullptr) {
    if (errno != ENOENT) spdlog::warn("read {}: {}", pending_dir_, std::strerror(errno));
    return;
  }
  std::vector<std::string> names;
  while (const dirent* e = readdir(d)) names.emplace_back(e->d_name);
  closedir(d);
  absl::MutexLock l(&mu_);
  for (const std::string& name : names) {
    absl::string_view id = name;
    if (!absl::ConsumeSuffix(&id, ".json") || !runtime::ValidateContainerId(id).ok()) continue;
    const std::string path = absl::StrCat(pending_dir_, "/", name);
    absl::StatusOr<std::string> text = runtime::ReadFile(path, 64 * 1024);
    std::optional<PendingRestart> p;
    if (text.ok()) p = ParsePending(*text);
    if (!p.has_value()) {
      spdlog::warn("pending restart {}: unreadable or malformed; ignored", path);
      continue;
    }
    pending_.insert_or_assign(std::string(id), *std::move(p));
  }
}

void RestartMemory::RemovePendingFile(const std::string& id) const {
  if (pending_dir_.empty()) return;
  const std::string path = absl::StrCat(pending_dir_, "/", id, ".json");
  if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("remove pending restart {}: {}", path, std::strerror(errno));
  }
}

RestartState RestartMemory::Get(const std::string& id) const {
  absl::MutexLock l(&mu_);
  RestartState s;
  s.exit = Lookup(exits_, id);
  s.exit_delay = backoff_.Last(id);
  s.pending = Lookup(pending_, id);
  s.pull = Lookup(pulls_, id);
  s.pull_delay = pull_backoff_.Last(id);
  s.restart_request = Lookup(restart_requests_, id).value_or(0);
  s.kill_request = Lookup(kill_requests_, id);
  return s;
}

void RestartMemory::RecordExit(const std::string& id, ExitSeen exit, absl::Duration delay) {
  absl::MutexLock l(&mu_);
  backoff_.Set(id, delay);
  exits_.insert_or_assign(id, exit);
}

absl::Status RestartMemory::RecordPending(const std::string& id, PendingRestart pending) {
  if (!pending_dir_.empty()) {
    nlohmann::json j = {{"restartCount", pending.restart_count}};
    if (pending.last_exit_code.has_value()) j["lastExitCode"] = *pending.last_exit_code;
    if (!pending.last_exit_reason.empty()) j["lastExitReason"] = pending.last_exit_reason;
    absl::Status s = runtime::MakeDirs(pending_dir_, 0700);
    if (s.ok()) s = runtime::WriteFileAtomic(absl::StrCat(pending_dir_, "/", id, ".json"),
                                             j.dump() + "\n");
    if (!s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("record the restart of container ", id, ": ", s.message()));
    }
  }
  absl::MutexLock l(&mu_);
  pending_.insert_or_assign(id, std::move(pending));
  return absl::OkStatus();
}

void RestartMemory::ClearPending(const std::string& id) {
  absl::MutexLock l(&mu_);
  pending_.erase(id);
  RemovePendingFile(id);
}

void RestartMemory::RecordPullFailure(const std::string& id, PullFailure failure,
                                      absl::Duration delay) {
  absl::MutexLock l(&mu_);
  pull_backoff_.Set(id, delay);
  pulls_.insert_or_assign(id, std::move(failure));
}

void RestartMemory::ForgetPull(const std::string& id) {
  absl::MutexLock l(&mu_);
  pulls_.erase(id);
  pull_backoff_.Forget(id);
}

void RestartMemory::Forget(const std::string& id) {
  absl::MutexLock l(&mu_);
  backoff_.Forget(id);
  pull_backoff_.Forget(id);
  pulls_.erase(id);
  exits_.erase(id);
  pending_.erase(id);
  RemovePendingFile(id);
  restart_requests_.erase(id);
  kill_requests_.erase(id);
}

uint64_t RestartMemory::RequestRestart(const std::string& id) {
  absl::MutexLock l(&mu_);
  restart_requests_.insert_or_assign(id, ++last_restart_request_);
  return last_restart_request_;
}

void RestartMemory::ConsumeRestart(const std::string& id, uint64_t request) {
  absl::MutexLock l(&mu_);
  if (auto it = restart_requests_.find(id);
      it != restart_requests_.end() && it->second == request) {
    restart_requests_.erase(it);
  }
}

uint64_t RestartMemory::RequestKill(const std::string& id, KillRequest kill) {
  absl::MutexLock l(&mu_);
  kill.number = ++last_restart_request_;  // one sequence for both kinds
  kill_requests_.insert_or_assign(id, std::move(kill));
  return last_restart_request_;
}

void RestartMemory::ConsumeKill(const std::string& id, uint64_t request) {
  absl::MutexLock l(&mu_);
  if (auto it = kill_requests_.find(id);
      it != kill_requests_.end() && it->second.number == request) {
    kill_requests_.erase(it);
  }
}

}  // namespace berth::controller
