// DaemonApiBackend's write side: Apply and Delete through the manifests
// directory's writer (the directory's watch takes the change to the
// controller, as for any edit), Restart as a request the reconciler carries
// out at the id's next reconcile, Plan as `berthd --dry-run` computes it.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/berthd/api_backend.h"
#include "controller/plan.h"
#include "controller/spec/container_annotations.h"
#include "controller/spec/spec_parser.h"
#include "runtime/names.h"

namespace berth::berthd {
namespace {

using controller::NodeContainer;

const char* ActionName(controller::ActionKind kind) {
  switch (kind) {
    case controller::ActionKind::kCreate: return "create";
    case controller::ActionKind::kRecreate: return "recreate";
    case controller::ActionKind::kDelete: return "remove";
    case controller::ActionKind::kNoop: break;
  }
  return "none";
}

absl::Status NoManifestsDir() {
  return absl::FailedPreconditionError(
      "berthd reads no manifests directory (--manifests-dir is empty): nothing to write to");
}

absl::Status ValidateRef(const std::string& namespace_, const std::string& name) {
  if (absl::Status s = runtime::ValidateDnsLabel("namespace", namespace_); !s.ok()) return s;
  return runtime::ValidateDnsSubdomain("name", name);
}

}  // namespace

absl::StatusOr<std::vector<api::AppliedObject>> DaemonApiBackend::Apply(absl::string_view manifest,
                                                                        absl::string_view origin,
                                                                        bool dry_run) {
  if (parts_.manifest_writer == nullptr) return NoManifestsDir();
  absl::StatusOr<std::vector<controller::AppliedObject>> applied =
      parts_.manifest_writer->Apply(manifest, origin, dry_run);
  if (!applied.ok()) return applied.status();
  std::vector<api::AppliedObject> out;
  for (const controller::AppliedObject& a : *applied) {
    out.push_back({a.namespace_, a.name, a.file, a.result});
  }
  return out;
}

absl::StatusOr<std::string> DaemonApiBackend::Delete(const std::string& namespace_,
                                                     const std::string& name) {
  if (parts_.manifest_writer == nullptr) return NoManifestsDir();
  return parts_.manifest_writer->Delete(namespace_, name);
}

absl::Status DaemonApiBackend::Restart(const std::string& namespace_, const std::string& name) {
  if (absl::Status s = ValidateRef(namespace_, name); !s.ok()) return s;
  controller::ObjectMeta meta;
  meta.namespace_ = namespace_;
  meta.name = name;
  const std::string id = controller::ContainerIdFor(meta);
  absl::StatusOr<runtime::ContainerStatus> c = parts_.runtime->State(id);
  if (absl::IsNotFound(c.status())) {
    return absl::NotFoundError(absl::StrCat("nodecontainers \"", name,
                                            "\" not found in namespace \"", namespace_,
                                            "\" (no container on this node)"));
  }
  if (!c.ok()) return c.status();
  // A container no source wants is being removed: a request would linger
  // until the object came back.
  if (!parts_.sources->Get(id).has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "NodeContainer ", namespace_, "/", name,
        " is no longer desired on this node (its container is being removed): nothing to restart"));
  }
  // Carried out by the reconcile of `id`, which the push brings about: a
  // key is never handed to two workers at once.
  parts_.reconciler->RequestRestart(id);
  parts_.restarts->Push(id);
  return absl::OkStatus();
}

absl::StatusOr<api::NodePlanResult> DaemonApiBackend::Plan(absl::string_view manifest,
                                                           absl::string_view origin) {
  std::map<std::string, NodeContainer> objects;
  for (const std::string& id : parts_.sources->Ids()) {
    if (std::optional<NodeContainer> o = parts_.sources->Get(id)) objects[id] = *std::move(o);
  }
  if (!manifest.empty()) {
    controller::ParseResult parsed = controller::ParseManifests(manifest, origin);
    if (!parsed.errors.empty()) {
      std::vector<std::string> lines;
      for (const controller::ParseError& e : parsed.errors) lines.push_back(e.ToString());
      return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
    }
    for (NodeContainer& o : parsed.objects) {
      objects[controller::ContainerIdFor(o.metadata)] = std::move(o);
    }
  }
  absl::StatusOr<std::vector<runtime::ContainerStatus>> running = parts_.runtime->List();
  if (!running.ok()) return running.status();
  std::map<std::string, std::string> observed;
  std::map<std::string, controller::ContainerAnnotations> names;
  for (const runtime::ContainerStatus& c : *running) {
    controller::ContainerAnnotations a = controller::ContainerAnnotations::Decode(c.annotations);
    observed[c.id] = a.spec_hash;
    names[c.id] = std::move(a);
  }
  const std::map<std::string, std::string> labels =
      parts_.cluster != nullptr ? parts_.cluster->NodeLabels(parts_.config->node_labels)
                                : parts_.config->node_labels;
  std::vector<controller::PlannedAction> plan =
      controller::NodePlan(objects, observed, parts_.config->node_name, labels);
  api::NodePlanResult result;
  result.text = controller::FormatPlan(plan);
  for (const controller::PlannedAction& a : plan) {
    api::PlanStep step{"", a.id, ActionName(a.kind), a.reason};
    if (auto o = objects.find(a.id); o != objects.end()) {
      step.namespace_ = o->second.metadata.namespace_;
      step.name = o->second.metadata.name;
    } else if (auto n = names.find(a.id); n != names.end() && !n->second.name.empty()) {
      step.namespace_ = n->second.namespace_;
      step.name = n->second.name;
    }
    result.steps.push_back(std::move(step));
  }
  return result;
}

}  // namespace berth::berthd
