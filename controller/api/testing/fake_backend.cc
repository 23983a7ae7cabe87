#include "controller/api/testing/fake_backend.h"

#include "absl/strings/str_cat.h"

namespace berth::api::testing {
namespace {

absl::Status ReadsOnly() { return absl::UnimplementedError("this node serves reads only"); }

}  // namespace

absl::StatusOr<std::vector<AppliedObject>> ReadOnlyBackend::Apply(absl::string_view,
                                                                  absl::string_view, bool) {
  return ReadsOnly();
}
absl::StatusOr<std::string> ReadOnlyBackend::Delete(const std::string&, const std::string&) {
  return ReadsOnly();
}
absl::Status ReadOnlyBackend::Restart(const std::string&, const std::string&) {
  return ReadsOnly();
}
absl::StatusOr<NodePlanResult> ReadOnlyBackend::Plan(absl::string_view, absl::string_view) {
  return ReadsOnly();
}

void AddRunningContainers(NodeView& view, int n, absl::Time now) {
  for (int i = 0; i < n; ++i) {
    controller::NodeContainer o;
    o.metadata.name = absl::StrCat("ticker-", i);
    o.metadata.labels = {{"app", "ticker"}, {"shard", absl::StrCat(i % 10)}};
    o.spec.image = "registry.local:5000/busybox:1.36";
    o.spec.command = {"sh", "-c", "while true; do date; sleep 1; done"};
    o.spec.limits.memory_bytes = 32 << 20;
    o.source = absl::StrCat("/etc/berth/manifests/ticker-", i, ".yaml:1");
    o.origin = "manifests";
    const std::string id = controller::ContainerIdFor(o.metadata);
    view.ObserveDesired(id, o);
    controller::ContainerReport r;
    r.id = r.container_id = id;
    r.namespace_ = o.metadata.namespace_;
    r.name = o.metadata.name;
    r.phase = "Running";
    r.ready = i % 10 != 9;
    r.image = o.spec.image;
    r.image_id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    r.pid = 10000 + i;
    r.created_at = r.started_at = now - absl::Minutes(i);
    view.Report(r);
  }
}

}  // namespace berth::api::testing
