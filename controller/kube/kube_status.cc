#include "controller/kube/kube_status.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/kube/finalizers.h"
#include "spdlog/spdlog.h"

namespace berth::kube {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

int PhaseRank(const std::string& phase) {
  static const char* const kOrder[] = {"Succeeded",        "Running", "Pending",
                                       "CrashLoopBackOff", "Failed",  "Error"};
  for (int i = 0; i < 6; ++i) {
    if (phase == kOrder[i]) return i;
  }
  return 2;  // unknown phases count as Pending
}

const nlohmann::json* FindCondition(const nlohmann::json& conditions, const std::string& type) {
  if (!conditions.is_array()) return nullptr;
  for (const nlohmann::json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

// A condition; lastTransitionTime from `previous` when the status is
// unchanged.
nlohmann::json Condition(const std::string& type, bool ok, const std::string& reason,
                         const std::string& message, std::optional<int64_t> generation,
                         const nlohmann::json& previous, absl::Time now) {
  nlohmann::json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"reason", reason}};
  if (!message.empty()) c["message"] = message;
  if (generation.has_value()) c["observedGeneration"] = *generation;
  const nlohmann::json* prev = FindCondition(previous, type);
  if (prev != nullptr && prev->value("status", "") == c["status"] &&
      prev->contains("lastTransitionTime") && (*prev)["lastTransitionTime"].is_string()) {
    c["lastTransitionTime"] = (*prev)["lastTransitionTime"];
  } else {
    c["lastTransitionTime"] = Rfc3339(now);
  }
  return c;
}

bool ConditionTrue(const nlohmann::json& entry, const std::string& type) {
  const nlohmann::json* c = entry.is_object() && entry.contains("conditions")
                                ? FindCondition(entry["conditions"], type)
                                : nullptr;
  return c != nullptr && c->value("status", "") == "True";
}

// `entry` without condition times, for "did anything change" checks.
nlohmann::json Core(nlohmann::json entry) {
  if (entry.is_object() && entry.contains("conditions") && entry["conditions"].is_array()) {
    for (nlohmann::json& c : entry["conditions"]) {
      if (c.is_object()) c.erase("lastTransitionTime");
    }
  }
  return entry;
}

}  // namespace

std::string WorstPhase(const std::vector<std::string>& phases) {
  if (phases.empty()) return "Pending";
  std::string worst = phases[0];
  for (const std::string& p : phases) {
    if (PhaseRank(p) > PhaseRank(worst)) worst = p;
  }
  return worst;
}

nlohmann::json NodeStatusEntry(const controller::ContainerReport& report,
                               const std::string& node_name, const nlohmann::json& previous,
                               absl::Time now) {
  nlohmann::json entry = controller::ReportToJson(report);
  entry.erase("namespace");
  entry.erase("name");
  entry["nodeName"] = node_name;
  const nlohmann::json prev_conditions =
      previous.is_object() ? previous.value("conditions", nlohmann::json()) : nlohmann::json();
  const bool running = report.phase == "Running";
  // Ready: running, and ready by its probes (kubelet's ContainersNotReady).
  const bool ready = running && report.ready.value_or(true);
  std::string ready_reason = ready ? "Running" : running ? "ContainersNotReady" : report.reason;
  if (ready_reason.empty()) ready_reason = report.phase.empty() ? "Unknown" : report.phase;
  const std::string ready_message =
      ready     ? ""
      : running ? absl::StrCat("containers with unready status: [", report.name, "]")
                : report.message;
  const bool reconciled = report.last_error.empty();
  entry["conditions"] = nlohmann::json::array(
      {Condition("Ready", ready, ready_reason, ready_message, report.observed_generation,
                 prev_conditions, now),
       Condition("Reconciled", reconciled, reconciled ? "Reconciled" : "ReconcileError",
                 report.last_error, report.observed_generation, prev_conditions, now)});
  return entry;
}

nlohmann::json MergeNodeStatus(const nlohmann::json& status, const std::string& node_name,
                               const nlohmann::json& entry, absl::Time now) {
  nlohmann::json out = status.is_object() ? status : nlohmann::json::object();
  nlohmann::json nodes = nlohmann::json::array();
  bool placed = false;
  if (out.contains("nodes") && out["nodes"].is_array()) {
    for (const nlohmann::json& e : out["nodes"]) {
      if (e.is_object() && e.value("nodeName", "") == node_name) {
        if (!entry.is_null() && !placed) nodes.push_back(entry);
        placed = true;
      } else {
        nodes.push_back(e);
      }
    }
  }
  if (!placed && !entry.is_null()) nodes.push_back(entry);

  std::vector<std::string> phases;
  int64_t restarts = 0;
  int64_t min_generation = std::numeric_limits<int64_t>::max();
  std::vector<std::string> not_ready, not_reconciled;
  for (const nlohmann::json& e : nodes) {
    if (!e.is_object()) continue;
    const std::string node = e.value("nodeName", "");
    phases.push_back(e.value("phase", ""));
    if (e.contains("restartCount") && e["restartCount"].is_number_integer()) {
      restarts += e["restartCount"].get<int64_t>();
    }
    int64_t g = 0;
    if (e.contains("observedGeneration") && e["observedGeneration"].is_number_integer()) {
      g = e["observedGeneration"].get<int64_t>();
    }
    min_generation = std::min(min_generation, g);
    if (!ConditionTrue(e, "Ready")) not_ready.push_back(node);
    if (!ConditionTrue(e, "Reconciled")) not_reconciled.push_back(node);
  }
  const nlohmann::json prev_conditions = out.value("conditions", nlohmann::json());
  out["phase"] = WorstPhase(phases);
  out["restartCount"] = restarts;
  std::optional<int64_t> generation;
  if (nodes.empty()) {
    out.erase("observedGeneration");
  } else {
    generation = min_generation;
    out["observedGeneration"] = min_generation;
  }
  auto summary = [&](const std::string& type, const std::vector<std::string>& failing,
                     const std::string& ok_reason, const std::string& bad_reason) {
    if (nodes.empty()) {
      return Condition(type, false, "NoNodes", "no node reports this object", generation,
                       prev_conditions, now);
    }
    if (failing.empty())
      return Condition(type, true, ok_reason, "", generation, prev_conditions, now);
    return Condition(type, false, bad_reason, "nodes: " + absl::StrJoin(failing, ", "), generation,
                     prev_conditions, now);
  };
  out["conditions"] = nlohmann::json::array(
      {summary("Ready", not_ready, "AllNodesReady", "NodesNotReady"),
       summary("Reconciled", not_reconciled, "AllNodesReconciled", "NodesNotReconciled")});
  if (nodes.empty()) {
    out.erase("nodes");
  } else {
    out["nodes"] = std::move(nodes);
  }
  return out;
}

KubeStatusSink::KubeStatusSink(ApiClient& client, Options options)
    : client_(client), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

KubeStatusSink::~KubeStatusSink() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  cancel_.Cancel();  // a request in flight ends now
  thread_.join();
}

void KubeStatusSink::Enqueue(Work work) {
  absl::MutexLock l(&mu_);
  if (pending_.count(work.id) == 0) order_.push_back(work.id);
  pending_[work.id] = std::move(work);
}

void KubeStatusSink::Report(const controller::ContainerReport& report) {
  if (options_.api_object && !options_.api_object(report.id).has_value()) return;
  const nlohmann::json core =
      Core(NodeStatusEntry(report, options_.node_name, nullptr, options_.clock->Now()));
  {
    absl::MutexLock l(&mu_);
    auto it = known_.find(report.id);
    // Equal to what was last written, and no other write of it queued or on
    // its way (which would overwrite it): nothing to do.
    if (pending_.count(report.id) == 0 && !(busy_ && writing_ == report.id) && it != known_.end() &&
        it->second == core) {
      return;
    }
  }
  Work w;
  w.id = report.id;
  w.namespace_ = report.namespace_;
  w.name = report.name;
  w.report = report;
  Enqueue(std::move(w));
}

void KubeStatusSink::Remove(const std::string& id) {
  std::optional<controller::NamespacedName> names;
  if (options_.api_object) names = options_.api_object(id);
  if (!names.has_value()) {
    // The object is gone (or never was an API object): nothing to clean.
    absl::MutexLock l(&mu_);
    known_.erase(id);
    return;
  }
  Work w;
  w.id = id;
  w.namespace_ = names->namespace_;
  w.name = names->name;
  {
    absl::MutexLock l(&mu_);
    known_.erase(id);
  }
  Enqueue(std::move(w));
}

bool KubeStatusSink::WaitIdle(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.empty() && !busy_; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

void KubeStatusSink::Run() {
  for (;;) {
    Work work;
    {
      absl::MutexLock l(&mu_);
      for (;;) {
        if (stopping_) return;
        const absl::Time now = absl::Now();
        absl::Time earliest = absl::InfiniteFuture();
        auto ready = order_.end();
        for (auto it = order_.begin(); it != order_.end(); ++it) {
          const absl::Time t = pending_[*it].not_before;
          if (t <= now) {
            ready = it;
            break;
          }
          earliest = std::min(earliest, t);
        }
        if (ready != order_.end()) {
          work = std::move(pending_[*ready]);
          pending_.erase(*ready);
          order_.erase(ready);
          busy_ = true;
          writing_ = work.id;
          break;
        }
        // Woken by Enqueue (pending_ grows) or stop; else at the next retry.
        const size_t n = pending_.size();
        auto changed = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || pending_.size() != n;
        };
        mu_.AwaitWithDeadline(absl::Condition(&changed),
                              std::min(earliest, absl::Now() + absl::Seconds(1)));
      }
    }
    absl::Status s = Write(work);
    absl::MutexLock l(&mu_);
    busy_ = false;
    if (s.ok()) continue;
    if (absl::IsUnavailable(s) && pending_.count(work.id) == 0 && !stopping_) {
      // Never sooner than the server asked (Retry-After of a 429 or 5xx).
      const double secs = std::max(
          std::min(absl::ToDoubleSeconds(options_.initial_backoff) *
                       std::pow(2.0, std::min(work.attempts, 30)),
                   absl::ToDoubleSeconds(options_.max_backoff)),
          absl::ToDoubleSeconds(RetryAfter(s)));
      ++work.attempts;
      spdlog::warn("{} (retry {} in {:.1f}s)", s.ToString(), work.attempts, secs);
      work.not_before = absl::Now() + absl::Seconds(secs);
      order_.push_back(work.id);
      pending_[work.id] = std::move(work);
    } else if (!absl::IsUnavailable(s) && !absl::IsCancelled(s)) {
      spdlog::error("{}", s.ToString());
    }
  }
}

absl::Status KubeStatusSink::Write(const Work& work) {
  const std::string what =
      absl::StrCat(work.report ? "write" : "remove", " status of node ", options_.node_name,
                   " in NodeContainer ", work.namespace_, "/", work.name);
  const std::string path = NodeContainerPath(work.namespace_, work.name);
  for (int attempt = 0; attempt < options_.max_conflicts; ++attempt) {
    absl::StatusOr<ApiResponse> got = client_.Request("GET", path, std::nullopt, "application/json",
                                                      absl::ZeroDuration(), &cancel_);
    if (!got.ok())
      return absl::Status(got.status().code(), absl::StrCat(what, ": ", got.status().message()));
    if (got->code == 404) {
      absl::MutexLock l(&mu_);
      known_.erase(work.id);
      return absl::OkStatus();
    }
    if (got->code != 200) return ResponseError(*got, what);
    nlohmann::json object = std::move(got->body);
    if (!object.is_object()) return absl::UnavailableError(what + ": the answer is not an object");
    const nlohmann::json status = object.value("status", nlohmann::json());
    nlohmann::json previous;
    if (status.is_object() && status.contains("nodes") && status["nodes"].is_array()) {
      for (const nlohmann::json& e : status["nodes"]) {
        if (e.is_object() && e.value("nodeName", "") == options_.node_name) previous = e;
      }
    }
    if (!work.report.has_value() && previous.is_null()) return absl::OkStatus();
    const absl::Time now = options_.clock->Now();
    const nlohmann::json entry =
        work.report ? NodeStatusEntry(*work.report, options_.node_name, previous, now) : nullptr;
    const nlohmann::json merged = MergeNodeStatus(status, options_.node_name, entry, now);
    if (merged == status) {
      absl::MutexLock l(&mu_);
      if (work.report) known_[work.id] = Core(entry);
      return absl::OkStatus();
    }
    object["status"] = merged;
    absl::StatusOr<ApiResponse> put = client_.Request(
        "PUT", path + "/status", object, "application/json", absl::ZeroDuration(), &cancel_);
    if (!put.ok())
      return absl::Status(put.status().code(), absl::StrCat(what, ": ", put.status().message()));
    if (put->code == 409) continue;
    if (put->code == 404) return absl::OkStatus();
    if (put->code != 200 && put->code != 201) return ResponseError(*put, what);
    ++writes_;
    absl::MutexLock l(&mu_);
    if (work.report) known_[work.id] = Core(entry);
    return absl::OkStatus();
  }
  return absl::AbortedError(
      absl::StrCat(what, ": still conflicting after ", options_.max_conflicts, " attempts"));
}

}  // namespace berth::kube
