#include "controller/restart_memory.h"

namespace berth::controller {
namespace {

template <typename Map>
std::optional<typename Map::mapped_type> Lookup(const Map& map, const std::string& id) {
  auto it = map.find(id);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace

RestartMemory::RestartMemory(RestartBackoff::Options options)
    : options_(options), backoff_(options), pull_backoff_(options) {}

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

void RestartMemory::RecordPending(const std::string& id, PendingRestart pending) {
  absl::MutexLock l(&mu_);
  pending_.insert_or_assign(id, std::move(pending));
}

void RestartMemory::ClearPending(const std::string& id) {
  absl::MutexLock l(&mu_);
  pending_.erase(id);
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
