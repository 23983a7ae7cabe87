// A node for the local API without a daemon: an ApiBackend that serves a
// NodeView and refuses every write, and a filler that puts N Running
// NodeContainers in a NodeView as the reconciler would report them. For
// tests and benchmarks of the read side (List, Get, Watch) through the real
// server and berthctl.
#ifndef BERTH_CONTROLLER_API_TESTING_FAKE_BACKEND_H_
#define BERTH_CONTROLLER_API_TESTING_FAKE_BACKEND_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

#include "controller/api/backend.h"
#include "controller/api/node_view.h"

namespace berth::api::testing {

// Reads only: Node() is `node`, View() is `view` (not owned, outlives
// this); Apply, Delete, Restart and Plan answer kUnimplemented; the rest
// are ApiBackend's defaults.
class ReadOnlyBackend : public ApiBackend {
 public:
  ReadOnlyBackend(NodeInfo node, const NodeView* view) : node_(std::move(node)), view_(view) {}
  NodeInfo Node() const override { return node_; }
  const NodeView* View() const override { return view_; }
  absl::StatusOr<std::vector<AppliedObject>> Apply(absl::string_view, absl::string_view,
                                                   bool) override;
  absl::StatusOr<std::string> Delete(const std::string&, const std::string&) override;
  absl::Status Restart(const std::string&, const std::string&) override;
  absl::StatusOr<NodePlanResult> Plan(absl::string_view, absl::string_view) override;

 private:
  NodeInfo node_;
  const NodeView* view_;
};

// Puts `n` NodeContainers ticker-0 ... ticker-<n-1> of the default
// namespace in `view`, desired and reported Running (pid 10000+i, created
// i minutes before `now`), each as large as a manifest's usually is. Every
// tenth (i % 10 == 9) is reported not ready, as with a failing readiness
// probe; the others are ready.
void AddRunningContainers(NodeView& view, int n, absl::Time now);

}  // namespace berth::api::testing

#endif  // BERTH_CONTROLLER_API_TESTING_FAKE_BACKEND_H_
