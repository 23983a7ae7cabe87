#include "controller/hook_records.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

const char* HookName(Hook hook) { return hook == Hook::kPostStart ? "postStart" : "preStop"; }

}  // namespace

HookRecords::Record HookRecords::Read(const std::string& id) const {
  if (dir_.empty()) {
    auto it = memory_.find(id);
    return it == memory_.end() ? Record{} : it->second;
  }
  absl::StatusOr<std::string> text = runtime::ReadFile(dir_ + "/" + id, 64 * 1024);
  if (!text.ok()) {
    if (!absl::IsNotFound(text.status())) spdlog::warn("hook record: {}", text.status().ToString());
    return {};
  }
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  Record r;
  if (!j.is_object() || !j.contains("createdAt") || !j["createdAt"].is_number_integer() ||
      !j.contains("hooks") || !j["hooks"].is_array()) {
    spdlog::warn("hook record {}/{}: malformed; ignored", dir_, id);
    return r;
  }
  r.created_at_ns = j["createdAt"].get<int64_t>();
  for (const nlohmann::json& h : j["hooks"]) {
    if (h.is_string()) r.hooks.insert(h.get<std::string>());
  }
  return r;
}

bool HookRecords::Begin(const std::string& id, absl::Time created_at, Hook hook) {
  absl::MutexLock lock(&mu_);
  const int64_t created_ns = absl::ToUnixNanos(created_at);
  Record r = Read(id);
  if (r.created_at_ns != created_ns) r = Record{created_ns, {}};
  if (!r.hooks.insert(HookName(hook)).second) return false;
  if (dir_.empty()) {
    memory_[id] = std::move(r);
    return true;
  }
  const nlohmann::json j = {{"createdAt", r.created_at_ns}, {"hooks", r.hooks}};
  absl::Status s = runtime::MakeDirs(dir_, 0700);
  if (s.ok()) s = runtime::WriteFileAtomic(dir_ + "/" + id, j.dump() + "\n");
  if (!s.ok()) {
    spdlog::error("record {} hook of container {}: {}; running it unrecorded", HookName(hook), id,
                  s.ToString());
  }
  return true;
}

void HookRecords::Forget(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (dir_.empty()) {
    memory_.erase(id);
    return;
  }
  const std::string path = dir_ + "/" + id;
  if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("remove hook record {}: {}", path, std::strerror(errno));
  }
}

}  // namespace berth::controller
