#include "controller/probe/prober.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

constexpr ProbeType kTypes[] = {ProbeType::kLiveness, ProbeType::kReadiness, ProbeType::kStartup};

const HeapOptional<Probe>& ProbeOf(const NodeContainerSpec& spec, ProbeType type) {
  switch (type) {
    case ProbeType::kLiveness: return spec.liveness_probe;
    case ProbeType::kReadiness: return spec.readiness_probe;
    case ProbeType::kStartup: break;
  }
  return spec.startup_probe;
}

std::string PortKey(const PortRef& p) { return absl::StrCat(p.number, "/", p.name); }

std::string HandlerKey(const Handler& h) {
  std::string k;
  if (h.exec) absl::StrAppend(&k, "exec:", absl::StrJoin(h.exec->command, "\x1f"), ";");
  if (h.http_get) {
    absl::StrAppend(&k, "http:", h.http_get->path, "|", PortKey(h.http_get->port), "|",
                    h.http_get->host, "|", static_cast<int>(h.http_get->scheme));
    for (const HttpHeader& x : h.http_get->headers) absl::StrAppend(&k, "|", x.name, "=", x.value);
    k += ";";
  }
  if (h.tcp_socket)
    absl::StrAppend(&k, "tcp:", PortKey(h.tcp_socket->port), "|", h.tcp_socket->host, ";");
  if (h.grpc) absl::StrAppend(&k, "grpc:", h.grpc->port, "|", h.grpc->service, ";");
  if (h.sleep) absl::StrAppend(&k, "sleep:", h.sleep->seconds, ";");
  return k;
}

// Short and stable within one build (berthd restarts with the same binary;
// after an upgrade a mismatch only starts the counts afresh).
std::string KeyHash(const std::string& key) {
  return std::to_string(std::hash<std::string>()(key));
}

}  // namespace

std::string ProbeKey(const Probe& p) {
  return absl::StrCat(HandlerKey(p.handler), p.initial_delay_seconds, ",", p.period_seconds, ",",
                      p.timeout_seconds, ",", p.success_threshold, ",", p.failure_threshold, ",",
                      p.termination_grace_period_seconds.value_or(-1));
}

const char* ProbeTypeName(ProbeType type) {
  switch (type) {
    case ProbeType::kLiveness: return "Liveness";
    case ProbeType::kReadiness: return "Readiness";
    case ProbeType::kStartup: break;
  }
  return "Startup";
}

Prober::Prober(ActionRunner& runner, const Clock& clock, const Clock& wall, ProberOptions options)
    : runner_(runner),
      clock_(clock),
      wall_(wall),
      options_(std::move(options)),
      pool_(clock, options_.workers) {}

Prober::~Prober() { Stop(); }

void Prober::Stop() { pool_.Stop(); }

bool Prober::StartedLocked(const Entry& e) const {
  const Worker& s = e.workers[static_cast<int>(ProbeType::kStartup)];
  return !s.probe.has_value() || s.result == Result::kSuccess;
}

bool Prober::ReadyLocked(const Entry& e) const {
  const Worker& r = e.workers[static_cast<int>(ProbeType::kReadiness)];
  return e.running && StartedLocked(e) && (!r.probe.has_value() || r.result == Result::kSuccess);
}

void Prober::CancelLocked(Entry& e) {
  for (Worker& w : e.workers) {
    if (w.timer != 0) pool_.Cancel(w.timer);
    w.timer = 0;
    w.generation = 0;  // a run in flight drops its result
  }
}

void Prober::ScheduleLocked(const std::string& id, Entry& e, ProbeType type, absl::Time at) {
  Worker& w = e.workers[static_cast<int>(type)];
  if (w.timer != 0) pool_.Cancel(w.timer);
  const uint64_t generation = w.generation;
  w.timer = pool_.Schedule(at, [this, id, type, generation] { RunProbe(id, type, generation); });
}

bool Prober::Observe(const std::string& id, const NodeContainer& object,
                     const runtime::ContainerStatus* running) {
  absl::MutexLock l(&mu_);
  if (running == nullptr) {
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.running) {
      CancelLocked(it->second);
      it->second.running = false;
    }
    return false;
  }
  auto [it, inserted] = entries_.try_emplace(id);
  Entry& e = it->second;
  const bool new_instance = inserted || e.created_at != running->created_at || !e.running;
  if (new_instance) {
    CancelLocked(e);
    e.workers = {};
    e.created_at = running->created_at;
    e.started_at = running->started_at;
    e.running = true;
    // A container already running when berthd started: its counts, if any.
    if (inserted) Load(id, e);
  }
  // The object is for a failing probe's events: kept only while there is a
  // probe (a copy per container is most of an entry's size).
  const bool probed = std::any_of(std::begin(kTypes), std::end(kTypes), [&](ProbeType type) {
    return ProbeOf(object.spec, type).has_value();
  });
  e.object = probed ? HeapOptional<NodeContainer>(object) : std::nullopt;
  e.target = ActionTarget{id, running->ip, object.spec.ports};
  const absl::Time now = clock_.Now();
  std::vector<ProbeType> fresh;  // new workers, scheduled once all are set
  for (ProbeType type : kTypes) {
    Worker& w = e.workers[static_cast<int>(type)];
    const HeapOptional<Probe>& want = ProbeOf(object.spec, type);
    const std::string key = want.has_value() ? ProbeKey(*want) : "";
    if (!new_instance && key == w.key) continue;
    if (w.generation != 0 || w.probe.has_value()) {
      // A changed probe: a new worker, the result kept, the counts anew.
      if (w.timer != 0) pool_.Cancel(w.timer);
      w.timer = 0;
      if (!w.probe.has_value()) w.result = Result::kUnknown;
      w.last = Result::kUnknown;
      w.run = 0;
      w.on_hold = false;
    } else if (w.restored != KeyHash(key)) {
      w.result = Result::kUnknown;  // restored counts of another probe
      w.last = Result::kUnknown;
      w.run = 0;
    }
    w.key = key;
    w.probe = want;
    w.generation = ++generations_;
    if (!want.has_value()) continue;
    if (w.result == Result::kUnknown) {
      // kubelet's initial values.
      w.result = type == ProbeType::kLiveness    ? Result::kSuccess
                 : type == ProbeType::kReadiness ? Result::kFailure
                                                 : Result::kUnknown;
    }
    fresh.push_back(type);
  }
  for (ProbeType type : fresh) {
    const bool gated = type == ProbeType::kStartup ? StartedLocked(e) : !StartedLocked(e);
    if (gated) continue;  // started when the startup probe succeeds; startup: done
    const Probe& probe = *e.workers[static_cast<int>(type)].probe;
    const absl::Duration delay =
        e.started_at + absl::Seconds(probe.initial_delay_seconds) - wall_.Now();
    ScheduleLocked(id, e, type, now + std::max(delay, absl::ZeroDuration()));
  }
  return ReadyLocked(e);
}

void Prober::Forget(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    CancelLocked(it->second);
    entries_.erase(it);
  }
  if (!options_.state_dir.empty()) std::remove((options_.state_dir + "/" + id + ".json").c_str());
}

void Prober::RunProbe(const std::string& id, ProbeType type, uint64_t generation) {
  const int t = static_cast<int>(type);
  Handler handler;
  ActionTarget target;
  absl::Duration timeout;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.workers[t].generation != generation) return;
    Entry& e = it->second;
    Worker& w = e.workers[t];
    w.timer = 0;
    if (!e.running || w.on_hold || !w.probe.has_value()) return;
    handler = w.probe->handler;
    target = e.target;
    timeout = absl::Seconds(std::max<int64_t>(1, w.probe->timeout_seconds));
  }
  const absl::Time began = clock_.Now();
  ActionResult r = runner_.Run(handler, target, timeout);
  const Result res = r.success ? Result::kSuccess : Result::kFailure;
  std::optional<NodeContainer> object;  // set: an Unhealthy event
  std::optional<ProbeKill> kill;
  bool changed = false;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.workers[t].generation != generation) return;
    Entry& e = it->second;
    Worker& w = e.workers[t];
    if (!e.running) return;
    const Probe& p = *w.probe;
    const bool was_ready = ReadyLocked(e);
    const bool was_started = StartedLocked(e);
    const Result before_result = w.result;
    const int64_t before_run = w.run;
    if (w.last == res) {
      ++w.run;
    } else {
      w.last = res;
      w.run = 1;
    }
    if (res == Result::kFailure && e.object) object = *e.object;
    const int64_t threshold = res == Result::kFailure ? std::max<int64_t>(1, p.failure_threshold)
                                                      : std::max<int64_t>(1, p.success_threshold);
    if (w.run >= threshold) {
      w.result = res;
      if (res == Result::kFailure && type != ProbeType::kReadiness) {
        // The container must go; nothing more to probe until a new one.
        kill = ProbeKill{e.created_at,
                         absl::StrCat("Container ", object ? object->metadata.name : id, " failed ",
                                      type == ProbeType::kLiveness ? "liveness" : "startup",
                                      " probe, will be restarted"),
                         p.termination_grace_period_seconds.has_value()
                             ? std::optional(absl::Seconds(*p.termination_grace_period_seconds))
                             : std::nullopt};
        w.on_hold = true;
        w.run = 0;
      }
    }
    if (!was_started && StartedLocked(e)) {
      // Started: liveness and readiness begin (after their initial delays).
      for (ProbeType other : {ProbeType::kLiveness, ProbeType::kReadiness}) {
        const HeapOptional<Probe>& o = e.workers[static_cast<int>(other)].probe;
        if (!o.has_value()) continue;
        const absl::Duration delay =
            e.started_at + absl::Seconds(o->initial_delay_seconds) - wall_.Now();
        ScheduleLocked(id, e, other, clock_.Now() + std::max(delay, absl::ZeroDuration()));
      }
    }
    changed = ReadyLocked(e) != was_ready || StartedLocked(e) != was_started;
    if (w.result != before_result || w.run != before_run) {
      if (w.result != before_result ||
          w.run <= std::max(p.failure_threshold, p.success_threshold)) {
        Save(id, e);
      }
    }
    const bool done = w.on_hold || (type == ProbeType::kStartup && StartedLocked(e));
    if (!done) {
      ScheduleLocked(
          id, e, type,
          std::max(began + absl::Seconds(std::max<int64_t>(1, p.period_seconds)), clock_.Now()));
    }
  }
  if (options_.on_result) options_.on_result(type, r.success);
  if (object.has_value()) {
    std::string output = r.output;
    if (output.size() > kMaxEventOutput) output = output.substr(0, kMaxEventOutput) + "...";
    EventRecorder& events = options_.events != nullptr ? *options_.events : log_events_;
    events.Record(*object, EventType::kWarning, "Unhealthy",
                  absl::StrCat(ProbeTypeName(type), " probe failed: ", output));
  }
  if (kill.has_value() && options_.kill) options_.kill(id, *kill);
  if (changed && options_.changed) options_.changed(id);
}

void Prober::Save(const std::string& id, const Entry& e) {
  if (options_.state_dir.empty()) return;
  nlohmann::json j;
  j["createdAt"] = absl::ToUnixNanos(e.created_at);
  for (const Worker& w : e.workers) {
    j["probes"].push_back({{"key", KeyHash(w.key)},
                           {"result", static_cast<int>(w.result)},
                           {"last", static_cast<int>(w.last)},
                           {"run", w.run}});
  }
  const std::string path = options_.state_dir + "/" + id + ".json";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump();
    if (!out.good()) {
      spdlog::warn("save probe state of {}: cannot write {}", id, tmp);
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    spdlog::warn("save probe state of {}: cannot rename {}", id, tmp);
  }
}

void Prober::Load(const std::string& id, Entry& e) {
  if (options_.state_dir.empty()) return;
  std::ifstream in(options_.state_dir + "/" + id + ".json");
  if (!in.good()) return;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("createdAt") || !j["probes"].is_array() ||
      j["probes"].size() != e.workers.size() ||
      j["createdAt"].get<int64_t>() != absl::ToUnixNanos(e.created_at)) {
    return;  // another instance's, or unreadable: start afresh
  }
  for (size_t i = 0; i < e.workers.size(); ++i) {
    const nlohmann::json& p = j["probes"][i];
    Worker& w = e.workers[i];
    w.restored = p.value("key", "");  // Observe keeps the counts of the same probe
    w.result = static_cast<Result>(p.value("result", 0));
    w.last = static_cast<Result>(p.value("last", 0));
    w.run = p.value("run", int64_t{0});
  }
}

}  // namespace berth::controller
