// The read side of berth.v1.Berth: List, Get, Watch, Events, answered from
// the backend's NodeView (node_view.h) alone: no runc calls, no file reads.
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/api/list_filter.h"
#include "controller/api/server.h"
#include "controller/api/service.h"
#include "controller/spec/node_container.h"

namespace berth::api {
namespace {

// How often a waiting stream looks whether its call was cancelled.
constexpr absl::Duration kPoll = absl::Milliseconds(200);

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

grpc::Status NoView() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "berthd's view of the node is not ready");
}

// How a change looks through a filter: a container that starts to match is
// ADDED, one that stops matching DELETED (with its new state), as the
// apiserver's filtered watches do. TYPE_UNSPECIFIED: not seen at all.
v1::WatchEvent::Type Through(const ContainerFilter& f, const ViewChange& c) {
  const bool before = c.before != nullptr && f.Matches(*c.before);
  const bool after = c.after != nullptr && f.Matches(*c.after);
  if (before && after) return v1::WatchEvent::MODIFIED;
  if (after) return v1::WatchEvent::ADDED;
  if (before) return v1::WatchEvent::DELETED;
  return v1::WatchEvent::TYPE_UNSPECIFIED;
}

// Whether an event is about the object the request names: all of them for
// an empty ref, a namespace's for a namespace alone.
bool About(const v1::ObjectRef& want, const v1::Event& e) {
  if (want.name().empty()) {
    return want.namespace_().empty() || e.object().namespace_() == want.namespace_();
  }
  const std::string ns = want.namespace_().empty() ? "default" : want.namespace_();
  return e.object().namespace_() == ns && e.object().name() == want.name();
}

}  // namespace

grpc::Status BerthService::List(grpc::ServerContext* context, const v1::ListRequest* request,
                                v1::ListResponse* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  const NodeView* view = backend_->View();
  if (view == nullptr) return NoView();
  absl::StatusOr<ContainerFilter> filter = ContainerFilter::Make(request->filter());
  if (!filter.ok()) return ToGrpc(filter.status());
  ViewSnapshot snapshot = view->List();
  response->mutable_items()->Reserve(static_cast<int>(snapshot.items.size()));
  for (const ContainerPtr& c : snapshot.items) {
    if (filter->Matches(*c)) *response->add_items() = *c;
  }
  response->set_revision(snapshot.revision);
  return grpc::Status::OK;
}

grpc::Status BerthService::Get(grpc::ServerContext* context, const v1::GetRequest* request,
                               v1::Container* response) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  const NodeView* view = backend_->View();
  if (view == nullptr) return NoView();
  if (request->ref().name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ref.name: required");
  }
  absl::StatusOr<v1::Container> c = view->Get(request->ref().namespace_(), request->ref().name());
  if (!c.ok()) return ToGrpc(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status BerthService::Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                                 grpc::ServerWriter<v1::WatchEvent>* writer) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  const NodeView* view = backend_->View();
  if (view == nullptr) return NoView();
  absl::StatusOr<ContainerFilter> filter = ContainerFilter::Make(request->filter());
  if (!filter.ok()) return ToGrpc(filter.status());
  uint64_t revision = request->since_revision();
  if (revision == 0) {
    ViewSnapshot snapshot = view->List();
    for (const ContainerPtr& c : snapshot.items) {
      if (!filter->Matches(*c)) continue;
      v1::WatchEvent e;
      e.set_type(v1::WatchEvent::ADDED);
      *e.mutable_container() = *c;
      e.set_revision(snapshot.revision);
      if (!writer->Write(e)) return grpc::Status::OK;  // the client went
    }
    revision = snapshot.revision;
  }
  while (!context->IsCancelled()) {
    absl::StatusOr<std::vector<ViewChange>> changes = view->ChangesAfter(revision, kPoll);
    if (!changes.ok()) return ToGrpc(changes.status());
    for (const ViewChange& c : *changes) {
      revision = c.revision;
      const v1::WatchEvent::Type type = Through(*filter, c);
      if (type == v1::WatchEvent::TYPE_UNSPECIFIED) continue;
      v1::WatchEvent e;
      e.set_type(type);
      *e.mutable_container() = c.after != nullptr ? *c.after : *c.before;
      e.set_revision(c.revision);
      if (!writer->Write(e)) return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the watch was cancelled");
}

grpc::Status BerthService::Events(grpc::ServerContext* context, const v1::EventsRequest* request,
                                  grpc::ServerWriter<v1::Event>* writer) {
  if (grpc::Status s = ApiServer::Authorize(*context, Access::kRead); !s.ok()) return s;
  const NodeView* view = backend_->View();
  if (view == nullptr) return NoView();
  const v1::ObjectRef& want = request->object();
  std::string id;
  if (!want.name().empty()) {
    controller::ObjectMeta meta;
    meta.namespace_ = want.namespace_().empty() ? "default" : want.namespace_();
    meta.name = want.name();
    id = controller::ContainerIdFor(meta);
  }
  uint64_t sequence = 0;
  std::vector<EventPtr> kept = view->Events(id, &sequence);
  // A container no longer listed: what the ring of all events kept of it.
  if (!id.empty() && kept.empty()) kept = view->Events("", nullptr);
  for (const EventPtr& e : kept) {
    if (e->revision() > sequence || !About(want, *e)) continue;
    if (!writer->Write(*e)) return grpc::Status::OK;
  }
  if (!request->follow()) return grpc::Status::OK;
  while (!context->IsCancelled()) {
    absl::StatusOr<std::vector<EventPtr>> events = view->EventsAfter(sequence, kPoll);
    if (!events.ok()) return ToGrpc(events.status());
    for (const EventPtr& e : *events) {
      sequence = e->revision();
      if (About(want, *e) && !writer->Write(*e)) return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled");
}

}  // namespace berth::api
