// When an image is pulled from its registry: Kubernetes' imagePullPolicy.
// A NodeContainer's spec names one (controller/spec/node_container.h) and an
// ImageStore (runtime/image/image_store.h) carries it out.
#ifndef BERTH_RUNTIME_IMAGE_PULL_POLICY_H_
#define BERTH_RUNTIME_IMAGE_PULL_POLICY_H_

namespace berth::image {

// kAlways pulls on every resolve (cheap when nothing changed), kIfNotPresent
// only when the image is not in the store, kNever never. Unset in a spec:
// Always for an image without a tag or digest or with the tag "latest", else
// IfNotPresent (EffectivePullPolicy in controller/desired_state.h).
enum class ImagePullPolicy { kAlways, kIfNotPresent, kNever };

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_PULL_POLICY_H_
