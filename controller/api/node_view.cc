#include "controller/api/node_view.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/api/spec_yaml.h"
#include "controller/spec/container_annotations.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"

namespace berth::api {
namespace {

using controller::ContainerReport;
using controller::NodeContainer;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

bool IsSet(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

void FillStatus(const ContainerReport& r, v1::ContainerStatus* s) {
  s->set_phase(r.phase);
  s->set_container_id(r.container_id);
  s->set_image(r.image);
  s->set_image_id(r.image_id);
  s->set_pid(r.pid);
  if (IsSet(r.started_at)) SetTime(r.started_at, s->mutable_started_at());
  if (IsSet(r.finished_at)) SetTime(r.finished_at, s->mutable_finished_at());
  if (r.exit_code.has_value()) {
    s->set_has_exit_code(true);
    s->set_exit_code(*r.exit_code);
  }
  s->set_reason(r.reason);
  s->set_restart_count(r.restart_count);
  if (r.last_exit_code.has_value()) {
    s->set_has_last_exit_code(true);
    s->set_last_exit_code(*r.last_exit_code);
  }
  s->set_last_exit_reason(r.last_exit_reason);
  s->set_last_error(r.last_error);
  s->set_observed_generation(r.observed_generation);
  s->set_message(r.message);
  s->set_ip(r.ip);
  s->set_ready(r.ready.value_or(r.phase == "Running"));
}

}  // namespace

v1::Source SourceOf(const NodeContainer& object) {
  v1::Source source;
  if (object.origin == "api" || object.source == "api") {
    source.set_kind("api");
    source.set_uid(object.metadata.uid);
    source.set_resource_version(object.metadata.resource_version);
    return source;
  }
  source.set_kind("file");
  // "path:line"; a path may hold ':' itself.
  const size_t colon = object.source.rfind(':');
  int line = 0;
  if (colon != std::string::npos && absl::SimpleAtoi(object.source.substr(colon + 1), &line)) {
    source.set_file(object.source.substr(0, colon));
    source.set_line(line);
  } else {
    source.set_file(object.source);
  }
  return source;
}

ContainerReport ReportOfRuntime(const runtime::ContainerStatus& c) {
  const controller::ContainerAnnotations a =
      controller::ContainerAnnotations::Decode(c.annotations);
  ContainerReport r;
  r.id = c.id;
  r.namespace_ = a.namespace_;
  r.name = a.name;
  switch (c.state) {
    case runtime::ContainerState::kCreated: r.phase = "Pending"; break;
    case runtime::ContainerState::kRunning:
    case runtime::ContainerState::kPaused: r.phase = "Running"; break;
    default: r.phase = c.exit_code.value_or(1) == 0 ? "Succeeded" : "Failed";
  }
  controller::SetObserved(c, &r);
  r.image = a.image;
  r.observed_generation = a.generation;
  return r;
}

NodeView::NodeView(controller::Clock& clock, NodeViewOptions options)
    : clock_(clock), options_(options) {}

void NodeView::Report(const ContainerReport& report) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[report.id];
  // A restart count that went down: a container of its own (berthctl
  // restart), as a new pod is; its age starts afresh.
  if (e.report.has_value() && report.restart_count < e.report->restart_count) {
    e.created_at = absl::InfinitePast();
  }
  e.report = report;
  // The first container seen keeps the entry's age; a spec change resets it
  // (ObserveDesired). Before any container: when it was first reported.
  if (!IsSet(e.created_at)) {
    e.created_at = IsSet(report.created_at) ? report.created_at : clock_.Now();
  }
  Publish(report.id, e);
}

void NodeView::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.report.reset();
  Publish(id, it->second);
}

void NodeView::ObserveDesired(const std::string& id, const std::optional<NodeContainer>& object) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (!object.has_value()) return;
    it = entries_.emplace(id, Entry()).first;
  }
  Entry& e = it->second;
  const bool desired = object.has_value() && object->metadata.deletion_timestamp.empty();
  if (object.has_value()) {
    // What the entry shows of the object: the spec as YAML (every field of
    // it, so the image and ports too), the labels and the source.
    std::string spec_yaml = SpecToYaml(object->spec);
    v1::Source source = SourceOf(*object);
    const bool same = e.has_object && spec_yaml == e.spec_yaml &&
                      e.labels == object->metadata.labels &&
                      google::protobuf::util::MessageDifferencer::Equals(source, e.source);
    if (same && e.desired == desired) return;
    if (!same) {
      if (!e.spec_yaml.empty() && spec_yaml != e.spec_yaml) e.created_at = absl::InfinitePast();
      e.spec_yaml = std::move(spec_yaml);
      e.labels = object->metadata.labels;
      e.source = std::move(source);
      e.spec_image = object->spec.image;
      e.ports = object->spec.ports;
      e.has_object = true;
    }
  } else if (!e.desired && e.observed) {
    return;
  }
  e.observed = true;
  e.desired = desired;
  Publish(id, e);
}

void NodeView::Record(const NodeContainer& object, controller::EventType type,
                      absl::string_view reason, absl::string_view message) {
  auto event = std::make_shared<v1::Event>();
  SetTime(clock_.Now(), event->mutable_time());
  event->set_type(type == controller::EventType::kWarning ? "Warning" : "Normal");
  event->set_reason(std::string(reason));
  event->set_message(std::string(message));
  event->mutable_object()->set_namespace_(object.metadata.namespace_);
  event->mutable_object()->set_name(object.metadata.name);
  const std::string id = controller::ContainerIdFor(object.metadata);
  absl::MutexLock lock(&mu_);
  event->set_revision(++event_sequence_);
  EventPtr shared = std::move(event);
  events_.push_back(shared);
  while (events_.size() > options_.events_kept) events_.pop_front();
  // The reconciler reads the desired object (ObserveDesired) before it
  // records anything about it, so a container's entry exists by now.
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  std::vector<EventPtr>& kept = it->second.events;
  kept.push_back(shared);
  if (kept.size() > options_.events_per_container) {
    kept.erase(kept.begin(), kept.end() - options_.events_per_container);
  }
}

ContainerPtr NodeView::Build(const std::string& id, const Entry& e) const {
  if (!e.report.has_value()) return nullptr;
  auto c = std::make_shared<v1::Container>();
  c->set_namespace_(e.report->namespace_);
  c->set_name(e.report->name);
  c->set_id(id);
  c->mutable_labels()->insert(e.labels.begin(), e.labels.end());
  *c->mutable_source() = e.source;
  FillStatus(*e.report, c->mutable_status());
  if (e.desired) {
    c->set_spec_yaml(e.spec_yaml);
    for (const controller::ContainerPort& p : e.ports) {
      v1::Port* port = c->add_ports();
      port->set_name(p.name);
      port->set_container_port(p.container_port);
      port->set_host_port(p.host_port);
      port->set_host_ip(p.host_ip);
      port->set_protocol(p.protocol == controller::Protocol::kUdp ? "UDP" : "TCP");
    }
  } else if (e.observed) {
    c->mutable_status()->set_phase("Removing");
  }
  c->set_image(e.spec_image.empty() ? e.report->image : e.spec_image);
  if (IsSet(e.created_at)) SetTime(e.created_at, c->mutable_created_at());
  return c;
}

void NodeView::Publish(const std::string& id, Entry& e) {
  ContainerPtr now = Build(id, e);
  ContainerPtr before = e.shown;
  if (now != nullptr && before != nullptr &&
      google::protobuf::util::MessageDifferencer::Equals(*now, *before)) {
    return;
  }
  if (now != nullptr || before != nullptr) {
    ViewChange change;
    change.revision = ++revision_;
    change.type = before == nullptr ? v1::WatchEvent::ADDED
                  : now == nullptr  ? v1::WatchEvent::DELETED
                                    : v1::WatchEvent::MODIFIED;
    change.before = before;
    change.after = now;
    history_.push_back(std::move(change));
    while (history_.size() > options_.history) history_.pop_front();
  }
  e.shown = now;
  if (now == nullptr && !e.desired) entries_.erase(id);
}

ViewSnapshot NodeView::List() const {
  ViewSnapshot snapshot;
  absl::MutexLock lock(&mu_);
  snapshot.items.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    if (e.shown != nullptr) snapshot.items.push_back(e.shown);
  }
  snapshot.revision = revision_;
  return snapshot;
}

absl::StatusOr<v1::Container> NodeView::Get(const std::string& namespace_,
                                            const std::string& name) const {
  controller::ObjectMeta meta;
  meta.namespace_ = namespace_.empty() ? "default" : namespace_;
  meta.name = name;
  const std::string id = controller::ContainerIdFor(meta);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.shown == nullptr) {
    return absl::NotFoundError(absl::StrCat("nodecontainers \"", name, "\" not found"));
  }
  v1::Container c = *it->second.shown;
  for (const EventPtr& ev : it->second.events) *c.add_events() = *ev;
  return c;
}

absl::StatusOr<std::vector<ViewChange>> NodeView::ChangesAfter(uint64_t revision,
                                                               absl::Duration timeout,
                                                               size_t max) const {
  absl::MutexLock lock(&mu_);
  if (revision > revision_) {
    return absl::InvalidArgumentError(
        absl::StrCat("revision ", revision, " is ahead of the current one, ", revision_));
  }
  auto has_news = [this, revision]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return revision_ > revision; };
  mu_.AwaitWithTimeout(absl::Condition(&has_news), timeout);
  std::vector<ViewChange> out;
  if (revision_ == revision) return out;
  // Kept: revisions history_.front().revision .. revision_.
  if (history_.empty() || history_.front().revision > revision + 1) {
    return absl::OutOfRangeError(
        absl::StrCat("too old resource version: ", revision, " (the oldest change kept is ",
                     history_.empty() ? revision_ : history_.front().revision,
                     "); list again and watch from the list's revision"));
  }
  for (size_t i = revision + 1 - history_.front().revision; i < history_.size() && out.size() < max;
       ++i) {
    out.push_back(history_[i]);
  }
  return out;
}

uint64_t NodeView::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

std::vector<EventPtr> NodeView::Events(const std::string& id, uint64_t* last_sequence) const {
  absl::MutexLock lock(&mu_);
  if (last_sequence != nullptr) *last_sequence = event_sequence_;
  if (id.empty()) return {events_.begin(), events_.end()};
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  return {it->second.events.begin(), it->second.events.end()};
}

absl::StatusOr<std::vector<EventPtr>> NodeView::EventsAfter(uint64_t sequence,
                                                            absl::Duration timeout,
                                                            size_t max) const {
  absl::MutexLock lock(&mu_);
  auto has_news = [this, sequence]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return event_sequence_ > sequence; };
  mu_.AwaitWithTimeout(absl::Condition(&has_news), timeout);
  std::vector<EventPtr> out;
  if (event_sequence_ <= sequence) return out;
  const uint64_t oldest = events_.empty() ? event_sequence_ + 1 : events_.front()->revision();
  if (oldest > sequence + 1) {
    return absl::OutOfRangeError(absl::StrCat("events after ", sequence,
                                              " are no longer kept (the oldest is ", oldest, ")"));
  }
  for (size_t i = sequence + 1 - oldest; i < events_.size() && out.size() < max; ++i) {
    out.push_back(events_[i]);
  }
  return out;
}

}  // namespace berth::api
