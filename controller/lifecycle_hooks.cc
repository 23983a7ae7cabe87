#include "controller/lifecycle_hooks.h"

#include <algorithm>
#include <utility>

#include "controller/spec/container_annotations.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

using runtime::ContainerState;
using runtime::ContainerStatus;

HookOutcome Ran(const ActionResult& r) {
  HookOutcome o;
  o.ran = true;
  o.failed = !r.success;
  o.output = r.output;
  return o;
}

}  // namespace

LifecycleHooks::LifecycleHooks(runtime::Runtime& runtime, const Clock& clock,
                               LifecycleHooksOptions options)
    : runtime_(runtime),
      clock_(clock),
      options_(std::move(options)),
      records_(options_.records_dir) {}

HookOutcome LifecycleHooks::PostStart(const NodeContainer& object, const ContainerStatus& started) {
  const HeapOptional<Handler>& hook = object.spec.lifecycle.post_start;
  if (!hook.has_value() || started.state != ContainerState::kRunning) return {};
  if (options_.actions == nullptr) {
    spdlog::warn("container {}: postStart hook not run: this berthd runs no hooks", started.id);
    return {};
  }
  if (!records_.Begin(started.id, started.created_at, Hook::kPostStart)) {
    spdlog::info("container {}: postStart hook began before; not run again", started.id);
    return {};
  }
  ActionTarget target{started.id, started.ip, object.spec.ports};
  spdlog::info("container {}: running postStart hook", started.id);
  return Ran(options_.actions->Run(*hook, target, options_.post_start_timeout));
}

StopOutcome LifecycleHooks::Stop(const std::string& id, absl::Duration grace) {
  StopOutcome out;
  out.signal_grace = grace;
  absl::StatusOr<ContainerStatus> c = runtime_.State(id);
  std::optional<Handler> hook;
  if (c.ok()) hook = ContainerAnnotations::Decode(c->annotations).pre_stop;
  if (hook.has_value() && c->state == ContainerState::kRunning && grace > absl::ZeroDuration()) {
    if (options_.actions == nullptr) {
      spdlog::warn("container {}: preStop hook not run: this berthd runs no hooks", id);
    } else if (!records_.Begin(id, c->created_at, Hook::kPreStop)) {
      spdlog::info("container {}: preStop hook began before; not run again", id);
    } else {
      spdlog::info("container {}: running preStop hook (grace period {})", id,
                   absl::FormatDuration(grace));
      const absl::Time began = clock_.Now();
      out.pre_stop = Ran(options_.actions->Run(*hook, ActionTarget{id, c->ip, {}}, grace));
      const absl::Duration took = clock_.Now() - began;
      out.signal_grace = std::max(grace - took, kMinStopGrace);
    }
  }
  out.status = runtime_.Stop(id, out.signal_grace);
  return out;
}

}  // namespace berth::controller
