#include "controller/metrics/health.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::metrics {

void HealthChecks::Add(std::string name, std::function<absl::Status()> check) {
  absl::MutexLock lock(&mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

HealthChecks::Result HealthChecks::Run() const {
  Result r;
  std::vector<std::string> failed;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, check] : checks_) {
    const absl::Status s = check();
    if (s.ok()) {
      absl::StrAppend(&r.body, "[+]", name, " ok\n");
    } else {
      absl::StrAppend(&r.body, "[-]", name, " failed: ", s.message(), "\n");
      failed.push_back(name);
    }
  }
  r.ok = failed.empty();
  absl::StrAppend(&r.body, r.ok ? "ok" : absl::StrCat(absl::StrJoin(failed, ","), " check failed"),
                  "\n");
  return r;
}

absl::Status CheckRelist(absl::Time last, absl::Time now, absl::Duration relist_period) {
  const absl::Duration threshold = std::max(kRelistThreshold, 3 * relist_period);
  if (last == absl::InfinitePast()) return absl::UnavailableError("the relister has not started");
  if (now - last > threshold) {
    return absl::UnavailableError(
        absl::StrCat("relist was last seen active ",
                     absl::FormatDuration(absl::Trunc(now - last, absl::Seconds(1))),
                     " ago; threshold is ", absl::FormatDuration(threshold)));
  }
  return absl::OkStatus();
}

absl::Status CheckWorkers(double longest_running_seconds) {
  if (absl::Seconds(longest_running_seconds) > kReconcileThreshold) {
    return absl::UnavailableError(absl::StrCat(
        "a reconcile has been running for ",
        absl::FormatDuration(absl::Trunc(absl::Seconds(longest_running_seconds), absl::Seconds(1))),
        "; threshold is ", absl::FormatDuration(kReconcileThreshold)));
  }
  return absl::OkStatus();
}

Readiness::Readiness() : reason_("starting") {}

void Readiness::NotReady(std::string reason) {
  absl::MutexLock lock(&mu_);
  reason_ = std::move(reason);
}

void Readiness::ReadyWhen(std::function<absl::Status()> synced) {
  absl::MutexLock lock(&mu_);
  reason_.clear();
  synced_ = std::move(synced);
}

absl::Status Readiness::Check() const {
  absl::MutexLock lock(&mu_);
  if (!reason_.empty()) return absl::UnavailableError(reason_);
  if (synced_) {
    absl::Status s = synced_();
    if (!s.ok()) return absl::UnavailableError(s.message());
  }
  return absl::OkStatus();
}

}  // namespace berth::metrics
