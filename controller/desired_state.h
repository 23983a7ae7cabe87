// From a NodeContainer to what the runtime should run, and the hash that
// tells whether a running container still matches it.
#ifndef BERTH_CONTROLLER_DESIRED_STATE_H_
#define BERTH_CONTROLLER_DESIRED_STATE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "controller/spec/container_annotations.h"
#include "controller/spec/node_container.h"
#include "controller/spec/spec_hash.h"
#include "runtime/container_spec.h"
#include "runtime/image/image_store.h"

namespace berth::controller {

// The runtime spec for `object` on `image`, with kubelet's rules for
// command/args against the image's Entrypoint/Cmd, the image's env under the
// object's, and the spec-hash annotation set (DesiredSpecHash).
absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const NodeContainer& object,
                                                          const image::ResolvedImage& image);
// The same with the image resolved from `images` without pulling (kNever).
absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const NodeContainer& object,
                                                          const image::ImageStore& images);

// The hash that decides whether a running container still matches `object`:
// SpecHash(object.spec) (controller/spec/spec_hash.h: the image reference as
// written, not what it resolves to; labels, annotations, the grace period
// and the pull policy are not in it). Compare an observed container's hash
// with SpecMatches or EffectiveObservedHash, never as a plain string: a
// container of an earlier release carries that release's form.
std::string DesiredSpecHash(const NodeContainer& object);

// imagePullPolicy with Kubernetes' default when unset: Always for an image
// without a tag or with the tag "latest" (and no digest), else IfNotPresent.
ImagePullPolicy EffectivePullPolicy(const NodeContainerSpec& spec);

// True when `object` is meant for the node named `node_name` with
// `node_labels`: nodeName empty or equal, and every nodeSelector pair present.
bool IsForNode(const NodeContainer& object, const std::string& node_name,
               const std::map<std::string, std::string>& node_labels);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_DESIRED_STATE_H_
