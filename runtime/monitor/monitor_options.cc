#include "runtime/monitor/monitor_options.h"

#include <string.h>

#include "runtime/monitor/sys_util.h"

namespace berth::monitor {
namespace {

constexpr int64_t kMaxLogFiles = 1000;

struct StringFlag {
  const char* name;
  std::string MonitorOptions::*field;
  bool required;
};

constexpr StringFlag kStringFlags[] = {
    {"--id", &MonitorOptions::id, true},
    {"--bundle", &MonitorOptions::bundle, true},
    {"--runc", &MonitorOptions::runc, true},
    {"--runc-root", &MonitorOptions::runc_root, true},
    {"--pid-file", &MonitorOptions::pid_file, true},
    {"--exit-file", &MonitorOptions::exit_file, true},
    {"--log-file", &MonitorOptions::log_file, true},
    {"--monitor-pid-file", &MonitorOptions::monitor_pid_file, true},
    {"--oom-file", &MonitorOptions::oom_file, false},
    {"--overlay-rootfs", &MonitorOptions::overlay_rootfs, false},
    {"--overlay-options", &MonitorOptions::overlay_options, false},
};
constexpr size_t kNumStringFlags = sizeof(kStringFlags) / sizeof(kStringFlags[0]);

// Parses `value` of integer flag `name` into [min, max].
bool ParseBoundedInt(const char* name, const char* value, int64_t min, int64_t max, int64_t* out,
                     std::string* error) {
  if (!ParseInt64(value, out) || *out < min || *out > max) {
    *error = std::string("parse flag ") + name + ": \"" + value + "\" is not an integer in [" +
             std::to_string(min) + ", " + std::to_string(max) + "]";
    return false;
  }
  return true;
}

// Handles one "--name value" pair; `seen` tracks string flags by index.
bool ApplyValueFlag(const char* name, const char* value, bool* seen, bool* seen_sync_fd,
                    MonitorOptions* options, std::string* error) {
  for (size_t i = 0; i < kNumStringFlags; ++i) {
    if (strcmp(name, kStringFlags[i].name) != 0) continue;
    if (*value == '\0') {
      *error = std::string("parse flag ") + name + ": empty value";
      return false;
    }
    options->*kStringFlags[i].field = value;
    seen[i] = true;
    return true;
  }
  int64_t parsed = 0;
  if (strcmp(name, "--sync-fd") == 0) {
    if (!ParseBoundedInt(name, value, 0, 1 << 30, &parsed, error)) return false;
    options->sync_fd = static_cast<int>(parsed);
    *seen_sync_fd = true;
    return true;
  }
  if (strcmp(name, "--log-max-bytes") == 0) {
    if (!ParseBoundedInt(name, value, 1, INT64_MAX / 2, &parsed, error)) {
      return false;
    }
    options->log_max_bytes = parsed;
    return true;
  }
  if (strcmp(name, "--log-max-files") == 0) {
    if (!ParseBoundedInt(name, value, 1, kMaxLogFiles, &parsed, error)) {
      return false;
    }
    options->log_max_files = static_cast<int>(parsed);
    return true;
  }
  *error = std::string("parse flags: unknown flag ") + name;
  return false;
}

bool IsValueFlag(const char* name) {
  for (const StringFlag& flag : kStringFlags) {
    if (strcmp(name, flag.name) == 0) return true;
  }
  return strcmp(name, "--sync-fd") == 0 || strcmp(name, "--log-max-bytes") == 0 ||
         strcmp(name, "--log-max-files") == 0;
}

}  // namespace

bool ParseMonitorOptions(int argc, const char* const* argv, MonitorOptions* options,
                         std::string* error) {
  *options = MonitorOptions();
  bool seen[kNumStringFlags] = {};
  bool seen_sync_fd = false;
  for (int i = 1; i < argc; ++i) {
    const char* name = argv[i];
    if (strcmp(name, "--kill-all") == 0) {
      options->kill_all = true;
      continue;
    }
    if (!IsValueFlag(name)) {
      *error = std::string("parse flags: unknown flag ") + name;
      return false;
    }
    if (i + 1 >= argc) {
      *error = std::string("parse flag ") + name + ": missing value";
      return false;
    }
    if (!ApplyValueFlag(name, argv[++i], seen, &seen_sync_fd, options, error)) {
      return false;
    }
  }
  for (size_t i = 0; i < kNumStringFlags; ++i) {
    if (kStringFlags[i].required && !seen[i]) {
      *error = std::string("parse flags: missing required flag ") + kStringFlags[i].name;
      return false;
    }
  }
  if (!seen_sync_fd) {
    *error = "parse flags: missing required flag --sync-fd";
    return false;
  }
  if (options->overlay_rootfs.empty() != options->overlay_options.empty()) {
    *error = "parse flags: --overlay-rootfs and --overlay-options go together";
    return false;
  }
  return true;
}

const char* MonitorUsage() {
  return "usage: berth-monitor --id ID --bundle DIR --runc PATH "
         "--runc-root DIR\n"
         "         --pid-file FILE --exit-file FILE --log-file FILE\n"
         "         --monitor-pid-file FILE --sync-fd N\n"
         "         [--log-max-bytes N] [--log-max-files N] "
         "[--oom-file PATH] [--kill-all]\n"
         "         [--overlay-rootfs DIR --overlay-options OPTIONS]\n";
}

}  // namespace berth::monitor
