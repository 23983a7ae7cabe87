// The spec of a NodeContainer as YAML, for the API's Container.spec_yaml:
// the object's spec as its source gave it, re-emitted from the parsed
// object (the parser keeps no text).
//
// What is emitted: every field that was set or differs from its default,
// under the names of the manifest (and CRD), in the order the README
// documents them; quantities in their canonical form (cpu "250m" or whole
// cores "2", memory with the largest binary suffix that divides it, "64Mi",
// else bytes), the stop signal by name ("SIGTERM"), user as "uid[:gid]".
// Fields at their defaults (restartPolicy Always, stopSignal SIGTERM,
// terminationGracePeriodSeconds 30, hostNetwork false, a probe's timings at
// Kubernetes' defaults) are left out, as the manifest most likely left them
// out. The probes and lifecycle hooks come last. Parsing the text again yields the
// same spec (the test checks this round trip).
#ifndef BERTH_CONTROLLER_API_SPEC_YAML_H_
#define BERTH_CONTROLLER_API_SPEC_YAML_H_

#include <string>

#include "controller/spec/node_container.h"

namespace berth::api {

// The `spec:` mapping's contents (without the "spec:" key), ending in a
// newline.
std::string SpecToYaml(const controller::NodeContainerSpec& spec);

// A YAML scalar that reads back as `s` (YAML 1.1 and 1.2): plain when that
// is safe, else double-quoted with escapes.
std::string YamlScalar(const std::string& s);

// "250m" or "2" for millicores.
std::string FormatCpu(int64_t millis);
// "64Mi", "1Gi", or "1000" for bytes.
std::string FormatBytes(int64_t bytes);

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_SPEC_YAML_H_
