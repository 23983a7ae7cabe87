// The spec hash of Berth v0.1.0, frozen. Containers made by that release
// carry it in berth.dev/spec-hash (16 hex digits); this build writes the
// canonical hash of controller/spec/spec_hash.h instead and still recognises a
// container whose legacy hash is what the desired object gives here, so an
// upgrade recreates nothing. Never change this file: its test pins values
// that running containers carry.
#ifndef BERTH_CONTROLLER_SPEC_LEGACY_SPEC_HASH_H_
#define BERTH_CONTROLLER_SPEC_LEGACY_SPEC_HASH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// Whether `value` has the legacy form: exactly 16 lowercase hex digits.
bool IsLegacySpecHash(absl::string_view value);

// What Berth v0.1.0 wrote as berth.dev/spec-hash for `object`: FNV-1a (64
// bit) of the JSON of the runtime spec it built on the image reference as
// written, without labels and annotations, as that release serialised it.
std::string LegacySpecHash(const NodeContainer& object);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_LEGACY_SPEC_HASH_H_
