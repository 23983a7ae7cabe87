// Validation of the names Berth turns into paths, cgroups and runc ids.
#ifndef BERTH_RUNTIME_NAMES_H_
#define BERTH_RUNTIME_NAMES_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace berth::runtime {

// A DNS-1123 label: 1-63 characters of [a-z0-9-], starting and ending with
// an alphanumeric character. Namespaces are labels.
absl::Status ValidateDnsLabel(absl::string_view what, absl::string_view value);

// A DNS-1123 subdomain as the Kubernetes API checks it (apimachinery's
// IsDNS1123Subdomain): 1-253 characters, dot-separated parts of [a-z0-9-]
// each starting and ending with an alphanumeric character, of any length
// (the API sets no 63-character limit per part). Object names are
// subdomains. No subdomain can be ".", ".." or contain "/", so a valid one is
// always safe as a single path component.
absl::Status ValidateDnsSubdomain(absl::string_view what, absl::string_view value);

// A container id: a DNS-1123 subdomain of at most 128 characters whose parts
// are DNS-1123 labels (at most 63 characters each); runc and cgroup paths
// take it as one component.
absl::Status ValidateContainerId(absl::string_view id);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_NAMES_H_
