#include "controller/berthctl/manifest_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace berth::berthctl {
namespace {

namespace fs = std::filesystem;

// Manifests are at most 1 MiB (berthd refuses larger); a little more is read
// so that berthd says so.
constexpr std::streamsize kMaxRead = (1 << 20) + 1;

absl::StatusOr<std::string> ReadAll(std::istream& in, const std::string& origin) {
  std::string content(kMaxRead, '\0');
  in.read(content.data(), kMaxRead);
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", origin));
  content.resize(static_cast<size_t>(in.gcount()));
  return content;
}

bool IsManifestName(const std::string& name) {
  return absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml") ||
         absl::EndsWith(name, ".json");
}

}  // namespace

absl::StatusOr<std::vector<ManifestInput>> ReadManifestInputs(const std::vector<std::string>& paths,
                                                              std::istream& in) {
  if (paths.empty()) return absl::InvalidArgumentError("must specify -f");
  std::vector<ManifestInput> inputs;
  bool stdin_read = false;
  auto read_file = [&](const std::string& path) -> absl::Status {
    std::ifstream file(path, std::ios::binary);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
    absl::StatusOr<std::string> content = ReadAll(file, path);
    if (!content.ok()) return content.status();
    inputs.push_back({path, *std::move(content)});
    return absl::OkStatus();
  };
  for (const std::string& path : paths) {
    if (path == "-") {
      if (stdin_read) continue;
      stdin_read = true;
      absl::StatusOr<std::string> content = ReadAll(in, "stdin");
      if (!content.ok()) return content.status();
      inputs.push_back({"-", *std::move(content)});
      continue;
    }
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      return absl::InvalidArgumentError(absl::StrCat("the path \"", path, "\" does not exist"));
    }
    if (!fs::is_directory(st)) {
      if (absl::Status s = read_file(path); !s.ok()) return s;
      continue;
    }
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
      const std::string name = e.path().filename();
      if (IsManifestName(name) && e.is_regular_file(ec)) names.push_back(e.path());
    }
    if (ec)
      return absl::InvalidArgumentError(absl::StrCat("cannot list ", path, ": ", ec.message()));
    if (names.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no manifest (*.yaml, *.yml, *.json) in the directory \"", path, "\""));
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (absl::Status s = read_file(name); !s.ok()) return s;
    }
  }
  return inputs;
}

}  // namespace berth::berthctl
