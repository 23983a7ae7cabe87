// berthd's logging: spdlog as text or as one JSON object per line.
#ifndef BERTH_CONTROLLER_BERTHD_LOGGING_H_
#define BERTH_CONTROLLER_BERTHD_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace berth::controller {

// `level`: trace, debug, info, warn, error; `format`: text or json.
absl::Status SetUpLogging(const std::string& level, const std::string& format);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_BERTHD_LOGGING_H_
