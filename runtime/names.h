// Validation of the names Berth turns into paths, cgroups and runc ids.
#ifndef BERTH_RUNTIME_NAMES_H_
#define BERTH_RUNTIME_NAMES_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace berth::runtime {

// A DNS-1123 label: 1-63 characters of [a-z0-9-], starting and ending with
// an alphanumeric character. Namespaces are labels.
absl::Status ValidateDnsLabel(absl::string_view what, absl::string_view value);

// A DNS-1123 subdomain: 1-253 characters, dot-separated labels of [a-z0-9-]
// each starting and ending with an alphanumeric character. Object names are
// subdomains. No subdomain can be ".", ".." or contain "/", so a valid one is
// always safe as a single path component.
absl::Status ValidateDnsSubdomain(absl::string_view what, absl::string_view value);

// A container id: a DNS-1123 subdomain of at most 128 characters (runc and
// cgroup paths take it as one component).
absl::Status ValidateContainerId(absl::string_view id);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_NAMES_H_
