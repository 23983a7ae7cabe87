// The spec hash: whether a running container still matches its NodeContainer.
//
// Berth writes it on every container it creates (annotation
// berth.dev/spec-hash) and recreates a container whose hash differs from the
// desired object's. It is a function of the NodeContainer's spec alone, in a
// canonical form written here field by field (CanonicalSpec), never of the
// runtime's record or OCI format: a change of those must not recreate
// running containers. Changing this form changes every container's hash, and
// so needs a new version with the old one kept for matching, as
// legacy_spec_hash.h keeps v0.1.0's.
//
// Values of berth.dev/spec-hash:
//   "v2:<16 hex digits>"  this form: FNV-1a (64 bit) of CanonicalSpec.
//   "<16 hex digits>"     Berth v0.1.0's (legacy_spec_hash.h): still
//                         matches when the desired object gives that value.
//   ""                    absent: a container Berth did not make that way;
//                         never matches.
#ifndef BERTH_CONTROLLER_SPEC_SPEC_HASH_H_
#define BERTH_CONTROLLER_SPEC_SPEC_HASH_H_

#include <string>

#include "controller/spec/node_container.h"

namespace berth::controller {

inline constexpr char kSpecHashVersionPrefix[] = "v2:";

// The fields of `spec` that need a new container when they change, each by
// name in a fixed order, after the line "berth.dev/spec-hash v2". In it:
// image (the reference as written: a newer image behind the same tag does
// not recreate, as with kubelet), command, args, env, workingDir, user and
// group, resource limits, mounts, stopSignal, hostNetwork. Not in it, so
// changing only them does not recreate: labels and annotations (metadata),
// imagePullPolicy, imagePullSecrets, restartPolicy,
// terminationGracePeriodSeconds, nodeName and nodeSelector, probes and
// lifecycle hooks. The namespace and name are not in it either: they are the
// container's identity (its id).
//
// Networking follows, each only when used, so that a spec without it has
// the same form (and hash) as before these fields existed: "ports" with the
// published ports as the runtime gets them (hostPort set, not on the host
// network: containerPort, hostPort, hostIP, protocol; a port's name and an
// unpublished port are informational and left out), "hostname" when set,
// "dnsPolicy" when None, "dnsConfig.*" when set, "hostAliases" when any.
//
// Encoding, one line per field: "<name> <value>\n"; strings as
// "<byte length>:<bytes>", integers in decimal, booleans "true"/"false", an
// unset optional "-", a list as its length followed by one line per element
// named "<name>[<index>]" (".<field>" for an element's fields).
std::string CanonicalSpec(const NodeContainerSpec& spec);

// "v2:" and the 16 hex digits of FNV-1a (64 bit) of CanonicalSpec(spec).
std::string SpecHash(const NodeContainerSpec& spec);

// Whether a container carrying `observed_hash` matches `desired`: the hash of
// this version, or a legacy (v0.1.0) hash that `desired` gives under that
// release's algorithm.
bool SpecMatches(const NodeContainer& desired, const std::string& observed_hash);

// `observed_hash` for comparing with DesiredSpecHash(desired): the desired
// hash when SpecMatches, else `observed_hash` unchanged. For code that
// compares hashes as strings (Decide, Diff).
std::string EffectiveObservedHash(const NodeContainer& desired, const std::string& observed_hash);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_SPEC_HASH_H_
