#include "controller/berthctl/args.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::berthctl {

std::string Args::Value(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Args::Values(const std::string& name) const {
  auto it = flags.find(name);
  return it == flags.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& argv,
                               const std::vector<FlagSpec>& specs) {
  auto by_long = [&](absl::string_view name) -> const FlagSpec* {
    for (const FlagSpec& s : specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  auto by_short = [&](char c) -> const FlagSpec* {
    for (const FlagSpec& s : specs) {
      if (s.short_name == c) return &s;
    }
    return nullptr;
  };
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      args.has_rest = true;
      args.rest.assign(argv.begin() + i + 1, argv.end());
      break;
    }
    if (absl::StartsWith(a, "--")) {
      std::string body = a.substr(2);
      std::optional<std::string> value;
      if (size_t eq = body.find('='); eq != std::string::npos) {
        value = body.substr(eq + 1);
        body.resize(eq);
      }
      const FlagSpec* spec = by_long(body);
      if (spec == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("unknown flag: --", body));
      if (spec->takes_value) {
        if (!value) {
          if (i + 1 >= argv.size()) {
            return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: --", body));
          }
          value = argv[++i];
        }
        args.flags[spec->name].push_back(*value);
      } else {
        args.flags[spec->name].push_back(value.value_or("true"));
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      for (size_t j = 1; j < a.size(); ++j) {
        const FlagSpec* spec = by_short(a[j]);
        if (spec == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown shorthand flag: '", std::string(1, a[j]), "' in ", a));
        }
        if (!spec->takes_value) {
          args.flags[spec->name].push_back("true");
          continue;
        }
        std::string value = a.substr(j + 1);
        if (!value.empty() && value[0] == '=') value.erase(0, 1);
        if (value.empty()) {
          if (i + 1 >= argv.size()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "flag needs an argument: '", std::string(1, a[j]), "' in -", std::string(1, a[j])));
          }
          value = argv[++i];
        }
        args.flags[spec->name].push_back(value);
        break;
      }
      continue;
    }
    args.positional.push_back(a);
  }
  return args;
}

}  // namespace berth::berthctl
