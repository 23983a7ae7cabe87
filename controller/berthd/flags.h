// berthd's command line: absl flags, spelled with '_' or '-' (--dry-run).
#ifndef BERTH_CONTROLLER_BERTHD_FLAGS_H_
#define BERTH_CONTROLLER_BERTHD_FLAGS_H_

#include <optional>

#include "controller/berthd/config.h"

namespace berth::berthd {

// Parses the flags (exiting on --help or an unknown flag, as absl does),
// sets up logging (--log-level, --log-format) and resolves the
// configuration. nullopt after printing or logging why: berthd exits 2.
std::optional<Config> ConfigFromCommandLine(int argc, char** argv);

}  // namespace berth::berthd

#endif  // BERTH_CONTROLLER_BERTHD_FLAGS_H_
