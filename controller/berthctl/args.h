// Command lines as kubectl takes them: flags before, between and after
// the positional arguments; "--flag value", "--flag=value", "-f value",
// "-fvalue"; single-letter boolean flags grouped ("-it"); everything after
// "--" positional (Args::rest).
#ifndef BERTH_CONTROLLER_BERTHCTL_ARGS_H_
#define BERTH_CONTROLLER_BERTHCTL_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::berthctl {

struct FlagSpec {
  std::string name;     // long name, without "--"
  char short_name = 0;  // 0: none
  bool takes_value = false;
  bool repeated = false;  // values accumulate (-f a -f b)
};

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> rest;  // after "--"
  bool has_rest = false;
  // Long name -> values (one "true" per occurrence for a boolean flag).
  std::map<std::string, std::vector<std::string>> flags;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // The last value given, or `fallback`.
  std::string Value(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> Values(const std::string& name) const;
};

// Fails with kubectl's wording: `unknown flag: --x`, `unknown shorthand
// flag: 'x' in -x`, `flag needs an argument: --x`.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               const std::vector<FlagSpec>& specs);

}  // namespace berth::berthctl

#endif  // BERTH_CONTROLLER_BERTHCTL_ARGS_H_
