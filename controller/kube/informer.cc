#include "controller/kube/informer.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace berth::kube {
namespace {

double Uniform01() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

Informer::Informer(ApiClient& client, Options options, Handlers handlers)
    : client_(client), options_(std::move(options)), handlers_(std::move(handlers)) {}

Informer::~Informer() { Stop(); }

void Informer::Start() {
  absl::MutexLock l(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

bool Informer::HasSynced() const {
  absl::MutexLock l(&mu_);
  return synced_;
}

std::optional<nlohmann::json> Informer::Get(const std::string& key) const {
  absl::MutexLock l(&mu_);
  auto it = store_.find(key);
  if (it == store_.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> Informer::List() const {
  absl::MutexLock l(&mu_);
  std::vector<nlohmann::json> out;
  out.reserve(store_.size());
  for (const auto& [key, object] : store_) out.push_back(object);
  return out;
}

std::vector<std::string> Informer::Keys() const {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [key, object] : store_) out.push_back(key);
  return out;
}

std::string Informer::ResourceVersion() const {
  absl::MutexLock l(&mu_);
  return resource_version_;
}

std::string Informer::Query(bool watch, const std::string& resource_version,
                            const std::string& continue_token) const {
  std::vector<std::string> q;
  if (watch) {
    q.push_back("watch=1");
    q.push_back("allowWatchBookmarks=true");
    const double secs = absl::ToDoubleSeconds(options_.watch_timeout) * (1.0 + Uniform01());
    q.push_back(absl::StrCat("timeoutSeconds=", std::max<int64_t>(1, std::llround(secs))));
  } else if (options_.page_size > 0) {
    q.push_back(absl::StrCat("limit=", options_.page_size));
    if (!continue_token.empty()) q.push_back("continue=" + QueryEscape(continue_token));
  }
  if (!resource_version.empty()) q.push_back("resourceVersion=" + QueryEscape(resource_version));
  if (!options_.label_selector.empty()) {
    q.push_back("labelSelector=" + QueryEscape(options_.label_selector));
  }
  if (!options_.field_selector.empty()) {
    q.push_back("fieldSelector=" + QueryEscape(options_.field_selector));
  }
  std::string out = options_.path;
  for (size_t i = 0; i < q.size(); ++i) absl::StrAppend(&out, i == 0 ? "?" : "&", q[i]);
  return out;
}

void Informer::Run() {
  bool need_list = true;
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
    }
    if (need_list) {
      absl::Status s = ListAndReplace();
      if (!s.ok()) {
        if (absl::IsCancelled(s)) return;
        spdlog::warn("informer {}: {}", options_.name, s.ToString());
        retry_after_ = RetryAfter(s);
        if (!Backoff()) return;
        continue;
      }
      need_list = false;
    }
    switch (WatchOnce()) {
      case WatchEnd::kStopped: return;
      case WatchEnd::kRelist: need_list = true; break;
      case WatchEnd::kBackoff:
        if (!Backoff()) return;
        break;
      case WatchEnd::kReconnect: break;
    }
  }
}

bool Informer::Backoff() {
  const double base =
      absl::ToDoubleSeconds(options_.initial_backoff) * std::pow(2.0, std::min(backoff_steps_, 30));
  const double capped = std::min(base, absl::ToDoubleSeconds(options_.max_backoff));
  // Never sooner than the server asked (Retry-After of a 429 or 5xx).
  const absl::Duration d = std::max(
      absl::Seconds(capped * (1.0 + options_.jitter * Uniform01())), retry_after_);
  retry_after_ = absl::ZeroDuration();
  ++backoff_steps_;
  absl::MutexLock l(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

absl::Status Informer::ListAndReplace() {
  std::map<std::string, nlohmann::json> listed;
  std::string list_rv;
  std::string continue_token;
  for (int page = 0;; ++page) {
    const std::string path = Query(false, "", continue_token);
    absl::StatusOr<ApiResponse> r = client_.Request("GET", path, std::nullopt, "application/json",
                                                    absl::ZeroDuration(), &cancel_);
    if (!r.ok()) return r.status();
    if (r->code == 410 && !continue_token.empty()) {
      // The continue token expired: start over.
      listed.clear();
      continue_token.clear();
      continue;
    }
    if (r->code != 200) return ResponseError(*r, absl::StrCat("list ", options_.name));
    absl::StatusOr<ListPage> decoded = DecodeListPage(r->body);
    if (!decoded.ok()) {
      return absl::UnavailableError(
          absl::StrCat("list ", options_.name, ": ", decoded.status().message()));
    }
    for (auto& [key, item] : decoded->items) listed[key] = std::move(item);
    list_rv = std::move(decoded->resource_version);
    continue_token = std::move(decoded->continue_token);
    if (continue_token.empty()) break;
    if (page > 10000) return absl::UnavailableError("list " + options_.name + ": too many pages");
  }
  ++lists_;

  struct Delivery {
    const Handler* handler;
    std::string key;
    nlohmann::json object;
  };
  std::vector<Delivery> deliveries;
  {
    absl::MutexLock l(&mu_);
    for (auto& [key, object] : store_) {
      if (listed.count(key) == 0) deliveries.push_back({&handlers_.on_delete, key, object});
    }
    for (auto& [key, object] : listed) {
      auto it = store_.find(key);
      if (it == store_.end()) {
        deliveries.push_back({&handlers_.on_add, key, object});
      } else if (ResourceVersionOf(it->second) != ResourceVersionOf(object)) {
        deliveries.push_back({&handlers_.on_update, key, object});
      }
    }
    store_ = std::move(listed);
    resource_version_ = list_rv;
  }
  for (const Delivery& d : deliveries) {
    if (*d.handler) (*d.handler)(d.key, d.object);
  }
  absl::MutexLock l(&mu_);
  synced_ = true;
  return absl::OkStatus();
}

void Informer::Upsert(const std::string& key, const nlohmann::json& object) {
  const Handler* handler = nullptr;
  {
    absl::MutexLock l(&mu_);
    auto it = store_.find(key);
    if (it == store_.end()) {
      handler = &handlers_.on_add;
    } else if (ResourceVersionOf(it->second) != ResourceVersionOf(object)) {
      handler = &handlers_.on_update;
    }
    store_[key] = object;
    const std::string rv = ResourceVersionOf(object);
    if (!rv.empty()) resource_version_ = rv;
  }
  if (handler != nullptr && *handler) (*handler)(key, object);
}

bool Informer::HandleEvent(absl::string_view line, WatchEnd* end, bool* delivered) {
  absl::StatusOr<WatchEvent> event = DecodeWatchEvent(line);
  if (!event.ok()) {
    spdlog::warn("informer {}: malformed watch event: {}", options_.name,
                 std::string(line.substr(0, 200)));
    *end = WatchEnd::kBackoff;
    return false;
  }
  const std::string& type = event->type;
  const nlohmann::json& object = event->object;
  if (type == "ERROR") {
    if (event->code == 410) {
      spdlog::info("informer {}: resourceVersion expired, listing again", options_.name);
      *end = WatchEnd::kRelist;
    } else {
      spdlog::warn("informer {}: watch error {}: {}", options_.name, event->code, event->message);
      *end = WatchEnd::kBackoff;
    }
    return false;
  }
  *delivered = true;
  if (type == "BOOKMARK") {
    absl::MutexLock l(&mu_);
    if (!event->resource_version.empty()) resource_version_ = event->resource_version;
    return true;
  }
  const std::string& key = event->key;
  if (key.empty()) {
    spdlog::warn("informer {}: watch event without a name", options_.name);
    return true;
  }
  if (type == "ADDED" || type == "MODIFIED") {
    Upsert(key, object);
  } else if (type == "DELETED") {
    bool known;
    {
      absl::MutexLock l(&mu_);
      known = store_.erase(key) > 0;
      if (!event->resource_version.empty()) resource_version_ = event->resource_version;
    }
    if (known && handlers_.on_delete) handlers_.on_delete(key, object);
  } else {
    spdlog::warn("informer {}: unknown watch event type {}", options_.name, type);
  }
  return true;
}

Informer::WatchEnd Informer::WatchOnce() {
  const std::string path = Query(true, ResourceVersion(), "");
  ++watches_;
  WatchEnd end = WatchEnd::kReconnect;
  bool delivered = false;
  const absl::Time start = absl::Now();
  absl::StatusOr<ApiResponse> r = client_.Watch(
      path, [&](absl::string_view line) { return HandleEvent(line, &end, &delivered); }, cancel_,
      options_.inactivity_timeout);
  const bool healthy = delivered || absl::Now() - start > absl::Seconds(5);
  if (healthy) backoff_steps_ = 0;
  if (!r.ok()) {
    if (absl::IsCancelled(r.status())) return WatchEnd::kStopped;
    spdlog::info("informer {}: {}", options_.name, r.status().ToString());
    return healthy ? WatchEnd::kReconnect : WatchEnd::kBackoff;
  }
  if (r->code == 410) {
    spdlog::info("informer {}: resourceVersion expired, listing again", options_.name);
    return WatchEnd::kRelist;
  }
  if (r->code != 200) {
    spdlog::warn("informer {}: {}", options_.name,
                 ResponseError(*r, "watch " + options_.name).ToString());
    retry_after_ = r->retry_after;
    return WatchEnd::kBackoff;
  }
  if (end == WatchEnd::kReconnect && !healthy) return WatchEnd::kBackoff;
  return end;
}

}  // namespace berth::kube
