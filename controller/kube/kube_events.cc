#include "controller/kube/kube_events.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace berth::kube {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

const char* TypeName(controller::EventType type) {
  return type == controller::EventType::kWarning ? "Warning" : "Normal";
}

}  // namespace

std::string EventKey(const controller::NodeContainer& object, controller::EventType type,
                     absl::string_view reason, absl::string_view message) {
  return absl::StrCat(object.metadata.uid, std::string(1, '\0'), reason, std::string(1, '\0'),
                      message, std::string(1, '\0'), TypeName(type));
}

KubeEventRecorder::KubeEventRecorder(ApiClient& client, Options options)
    : client_(client), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

KubeEventRecorder::~KubeEventRecorder() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  cancel_.Cancel();  // a request in flight ends now
  thread_.join();
}

void KubeEventRecorder::Record(const controller::NodeContainer& object, controller::EventType type,
                               absl::string_view reason, absl::string_view message) {
  if (object.metadata.uid.empty()) return;
  absl::MutexLock l(&mu_);
  if (stopping_) return;
  if (queue_.size() >= options_.queue_capacity) {
    const int64_t n = ++dropped_;
    if (n == 1 || n % 100 == 0) {
      spdlog::warn("event queue full: {} event(s) dropped so far", n);
    }
    return;
  }
  queue_.push_back(
      Pending{object, type, std::string(reason), std::string(message), options_.clock->Now()});
}

bool KubeEventRecorder::WaitIdle(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !busy_; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

void KubeEventRecorder::Run() {
  for (;;) {
    Pending p;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      p = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    absl::Status s;
    for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
      s = Send(p);
      if (!absl::IsUnavailable(s)) break;
      absl::MutexLock l(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.retry_delay)) break;
    }
    if (!s.ok() && !absl::IsCancelled(s)) {
      ++failed_;
      spdlog::warn("{}", s.ToString());
    }
    absl::MutexLock l(&mu_);
    busy_ = false;
  }
}

absl::Status KubeEventRecorder::Send(const Pending& p) {
  const std::string key = EventKey(p.object, p.type, p.reason, p.message);
  auto it = cache_.find(key);
  if (it != cache_.end() && p.time - it->second.last < options_.aggregation_window) {
    Sent& sent = it->second;
    const nlohmann::json patch = {{"count", sent.count + 1}, {"lastTimestamp", Rfc3339(p.time)}};
    const std::string what = absl::StrCat("update event ", sent.namespace_, "/", sent.name);
    absl::StatusOr<ApiResponse> r = client_.Request(
        "PATCH", absl::StrCat("/api/v1/namespaces/", sent.namespace_, "/events/", sent.name), patch,
        "application/strategic-merge-patch+json", absl::ZeroDuration(), &cancel_);
    if (!r.ok())
      return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
    if (r->code == 200) {
      sent.count += 1;
      sent.last = p.time;
      sent.used = ++tick_;
      return absl::OkStatus();
    }
    if (r->code != 404) return ResponseError(*r, what);
    cache_.erase(it);  // the Event expired or was deleted: start a new one
  }
  return Create(p, key);
}

absl::Status KubeEventRecorder::Create(const Pending& p, const std::string& key) {
  const controller::ObjectMeta& m = p.object.metadata;
  // kubelet's "<name>.<unix nanos in hex>", kept unique per recorder even
  // when the clock repeats itself.
  uint64_t nanos = static_cast<uint64_t>(absl::ToUnixNanos(p.time));
  if (nanos <= last_nanos_) nanos = last_nanos_ + 1;
  last_nanos_ = nanos;
  const std::string name = absl::StrFormat("%s.%x", m.name, nanos);
  nlohmann::json involved = {{"apiVersion", controller::kApiVersion},
                             {"kind", controller::kKind},
                             {"name", m.name},
                             {"namespace", m.namespace_},
                             {"uid", m.uid}};
  if (!m.resource_version.empty()) involved["resourceVersion"] = m.resource_version;
  const nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", name}, {"namespace", m.namespace_}}},
      {"involvedObject", involved},
      {"reason", p.reason},
      {"message", p.message},
      {"type", TypeName(p.type)},
      {"source", {{"component", "berthd"}, {"host", options_.node_name}}},
      {"firstTimestamp", Rfc3339(p.time)},
      {"lastTimestamp", Rfc3339(p.time)},
      {"count", 1},
      {"reportingComponent", "berth.dev/berthd"},
      {"reportingInstance", options_.node_name},
  };
  const std::string what =
      absl::StrCat("create event ", p.reason, " for NodeContainer ", m.namespace_, "/", m.name);
  absl::StatusOr<ApiResponse> r =
      client_.Request("POST", absl::StrCat("/api/v1/namespaces/", m.namespace_, "/events"), event,
                      "application/json", absl::ZeroDuration(), &cancel_);
  if (!r.ok())
    return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
  if (r->code == 409) {
    // The name is taken (another recorder, same nanosecond): next name.
    return absl::UnavailableError(absl::StrCat(what, ": event name ", name, " taken"));
  }
  if (r->code != 201 && r->code != 200) return ResponseError(*r, what);
  if (cache_.size() >= options_.cache_size) {
    auto oldest = cache_.begin();
    for (auto i = cache_.begin(); i != cache_.end(); ++i) {
      if (i->second.used < oldest->second.used) oldest = i;
    }
    cache_.erase(oldest);
  }
  cache_[key] = Sent{name, m.namespace_, 1, p.time, ++tick_};
  return absl::OkStatus();
}

}  // namespace berth::kube
