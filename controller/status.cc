#include "controller/status.h"

#include <dirent.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "controller/spec/container_annotations.h"
#include "runtime/names.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

}  // namespace

void SetObserved(const runtime::ContainerStatus& observed, ContainerReport* report) {
  const ContainerAnnotations annotations = ContainerAnnotations::Decode(observed.annotations);
  report->container_id = observed.id;
  report->image_id = annotations.image_id;
  report->pid = observed.pid;
  report->created_at = observed.created_at;
  report->started_at = observed.started_at;
  report->finished_at = observed.finished_at;
  report->exit_code = observed.exit_code;
  report->reason = observed.reason;
  report->ip = observed.ip;
  report->restart_count = annotations.RestartCount();
  report->last_exit_code = annotations.last_exit_code;
  report->last_exit_reason = annotations.last_exit_reason;
}

nlohmann::json ReportToJson(const ContainerReport& r) {
  nlohmann::json j = {{"namespace", r.namespace_},
                      {"name", r.name},
                      {"phase", r.phase},
                      {"restartCount", r.restart_count},
                      {"observedGeneration", r.observed_generation}};
  if (!r.container_id.empty()) j["containerID"] = r.container_id;
  if (!r.image.empty()) j["image"] = r.image;
  if (!r.image_id.empty()) j["imageID"] = r.image_id;
  if (r.pid > 0) j["pid"] = r.pid;
  if (!r.ip.empty()) j["ip"] = r.ip;
  if (r.started_at != absl::InfinitePast()) j["startedAt"] = Rfc3339(r.started_at);
  if (r.finished_at != absl::InfinitePast()) j["finishedAt"] = Rfc3339(r.finished_at);
  if (r.exit_code.has_value()) j["exitCode"] = *r.exit_code;
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (r.last_exit_code.has_value()) {
    j["lastState"] = {{"exitCode", *r.last_exit_code}, {"reason", r.last_exit_reason}};
  }
  if (!r.last_error.empty()) j["lastError"] = r.last_error;
  if (!r.message.empty()) j["message"] = r.message;
  if (r.ready.has_value()) j["ready"] = *r.ready;
  return j;
}

FileStatusSink::FileStatusSink(std::string dir) : dir_(std::move(dir)) {
  if (absl::Status s = runtime::MakeDirs(dir_, 0755); !s.ok()) {
    spdlog::error("create status directory {}: {}", dir_, s.ToString());
  }
}

void FileStatusSink::Report(const ContainerReport& report) {
  std::string content = ReportToJson(report).dump(2) + "\n";
  {
    absl::MutexLock l(&mu_);
    auto it = last_.find(report.id);
    if (it != last_.end() && it->second == content) return;
  }
  // Written without the lock: reports of one id come one at a time (the work
  // queue), and other ids need not wait for this fsync.
  const std::string path = absl::StrCat(dir_, "/", report.id, ".json");
  if (absl::Status s = runtime::WriteFileAtomic(path, content); !s.ok()) {
    spdlog::error("write status of {}: {}", report.id, s.ToString());
    return;
  }
  absl::MutexLock l(&mu_);
  last_[report.id] = std::move(content);
}

std::vector<std::string> FileStatusSink::Ids() const {
  std::vector<std::string> ids;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return ids;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (absl::ConsumeSuffix(&name, ".json") && runtime::ValidateContainerId(name).ok()) {
      ids.emplace_back(name);
    }
  }
  closedir(d);
  return ids;
}

void FileStatusSink::Remove(const std::string& id) {
  absl::MutexLock l(&mu_);
  last_.erase(id);
  const std::string path = absl::StrCat(dir_, "/", id, ".json");
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::error("remove status of {}: {}", id, strerror(errno));
  }
}

}  // namespace berth::controller
