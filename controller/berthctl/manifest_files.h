// The manifests a verb's -f flags name, read as kubectl reads them: a file,
// every *.yaml, *.yml and *.json directly in a directory (sorted by name;
// subdirectories are not entered), or "-" for stdin.
#ifndef BERTH_CONTROLLER_BERTHCTL_MANIFEST_FILES_H_
#define BERTH_CONTROLLER_BERTHCTL_MANIFEST_FILES_H_

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::berthctl {

struct ManifestInput {
  std::string origin;  // the path, or "-" for stdin
  std::string content;
};

// kInvalidArgument, in kubectl's words, for a path that does not exist, a
// directory with no manifest and no -f at all; stdin is read at most once.
absl::StatusOr<std::vector<ManifestInput>> ReadManifestInputs(const std::vector<std::string>& paths,
                                                              std::istream& in);

}  // namespace berth::berthctl

#endif  // BERTH_CONTROLLER_BERTHCTL_MANIFEST_FILES_H_
