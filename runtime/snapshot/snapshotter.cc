#include "runtime/snapshot/snapshotter.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"
#include "spdlog/spdlog.h"

namespace berth::snapshot {
namespace {

std::string Sha256Digest(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  std::string out = "sha256:";
  for (unsigned char c : md) absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  closedir(d);
  return out;
}

absl::Status SyncDir(const std::string& path) {
  runtime::UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || fsync(fd.get()) != 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("fsync ", path));
  return absl::OkStatus();
}

// Allocated bytes below `path`, each inode once.
void AddUsage(const std::string& path, std::set<std::pair<dev_t, ino_t>>* seen, int64_t* bytes) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (seen->insert({st.st_dev, st.st_ino}).second)
    *bytes += static_cast<int64_t>(st.st_blocks) * 512;
  if (!S_ISDIR(st.st_mode)) return;
  for (const std::string& name : ListDir(path)) AddUsage(path + "/" + name, seen, bytes);
}

}  // namespace

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids_base_first) {
  std::vector<std::string> out;
  for (const std::string& diff_id : diff_ids_base_first) {
    out.push_back(out.empty() ? diff_id : Sha256Digest(absl::StrCat(out.back(), " ", diff_id)));
  }
  return out;
}

Snapshotter::Snapshotter(std::string root, UnpackOptions options)
    : root_(std::move(root)), options_(options) {}

absl::StatusOr<std::unique_ptr<Snapshotter>> Snapshotter::Open(std::string root,
                                                               UnpackOptions options) {
  while (root.size() > 1 && absl::EndsWith(root, "/")) root.pop_back();
  if (root.empty() || root[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("open snapshotter ", root, ": root must be absolute"));
  }
  if (absl::StrContains(root, ",") || absl::StrContains(root, ":")) {
    return absl::InvalidArgumentError(
        absl::StrCat("open snapshotter ", root, ": root must not contain ',' or ':'"));
  }
  auto s = std::unique_ptr<Snapshotter>(new Snapshotter(std::move(root), options));
  if (absl::Status st = s->Load(); !st.ok()) return st;
  return s;
}

absl::Status Snapshotter::Load() {
  if (absl::Status s = runtime::MakeDirs(root_ + "/snapshots", 0700); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("open snapshotter ", root_, ": ", s.message()));
  }
  for (const std::string& name : ListDir(root_)) {
    if (!absl::StartsWith(name, "tmp-")) continue;
    spdlog::info("snapshotter: removing unfinished {}/{}", root_, name);
    if (absl::Status s = runtime::RemoveTree(root_ + "/" + name); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("open snapshotter ", root_, ": ", s.message()));
    }
  }
  absl::MutexLock l(&mu_);
  for (const std::string& name : ListDir(root_ + "/snapshots")) {
    const std::string dir = absl::StrCat(root_, "/snapshots/", name);
    int64_t id = 0;
    absl::StatusOr<std::string> chain = runtime::ReadFile(dir + "/chain_id", 256);
    std::string chain_id = chain.ok() ? std::string(absl::StripAsciiWhitespace(*chain)) : "";
    struct stat st;
    const bool valid = absl::SimpleAtoi(name, &id) && id > 0 &&
                       absl::StartsWith(chain_id, "sha256:") &&
                       stat((dir + "/fs").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
                       by_chain_.count(chain_id) == 0;
    if (!valid) {
      // Only Prune's rename or a foreign hand leaves these.
      spdlog::warn("snapshotter: removing invalid snapshot {}", dir);
      if (absl::Status s = runtime::RemoveTree(dir); !s.ok()) return s;
      continue;
    }
    by_chain_[chain_id] = {chain_id, dir + "/fs", id};
    next_id_ = std::max(next_id_, id + 1);
  }
  return absl::OkStatus();
}

absl::Mutex* Snapshotter::ChainLock(const std::string& chain_id) {
  absl::MutexLock l(&mu_);
  auto& m = chain_locks_[chain_id];
  if (!m) m = std::make_unique<absl::Mutex>();
  return m.get();
}

absl::StatusOr<std::vector<std::string>> Snapshotter::Prepare(
    const std::vector<LayerBlob>& layers_base_first) {
  if (layers_base_first.empty()) return absl::InvalidArgumentError("prepare snapshots: no layers");
  std::vector<std::string> diff_ids;
  for (const LayerBlob& l : layers_base_first) {
    if (!absl::StartsWith(l.diff_id, "sha256:") || l.diff_id.size() != 71) {
      return absl::InvalidArgumentError(absl::StrCat("prepare snapshot of layer ", l.digest,
                                                     ": malformed diff_id \"", l.diff_id, "\""));
    }
    diff_ids.push_back(l.diff_id);
  }
  const std::vector<std::string> chains = ChainIds(diff_ids);
  std::vector<std::string> dirs;
  for (size_t i = 0; i < layers_base_first.size(); ++i) {
    absl::MutexLock chain_lock(ChainLock(chains[i]));
    {
      absl::MutexLock l(&mu_);
      auto it = by_chain_.find(chains[i]);
      if (it != by_chain_.end()) {
        dirs.push_back(it->second.path);
        continue;
      }
    }
    absl::StatusOr<SnapshotInfo> info = Commit(layers_base_first[i], chains[i]);
    if (!info.ok()) {
      return absl::Status(
          info.status().code(),
          absl::StrCat("prepare snapshot of layer ", layers_base_first[i].digest, " (", i + 1,
                       " of ", layers_base_first.size(), "): ", info.status().message()));
    }
    dirs.push_back(info->path);
  }
  return std::vector<std::string>(dirs.rbegin(), dirs.rend());
}

absl::StatusOr<SnapshotInfo> Snapshotter::Commit(const LayerBlob& layer,
                                                 const std::string& chain_id) {
  std::string tmp = root_ + "/tmp-XXXXXX";
  if (mkdtemp(tmp.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mkdtemp in ", root_));
  }
  absl::Cleanup remove_tmp = [&] {
    if (absl::Status s = runtime::RemoveTree(tmp); !s.ok())
      spdlog::error("snapshotter: {}", s.ToString());
  };
  const absl::Time start = absl::Now();
  absl::StatusOr<UnpackStats> stats =
      UnpackLayer(layer.path, layer.media_type, layer.diff_id, tmp + "/fs", options_);
  if (!stats.ok()) return stats.status();
  nlohmann::json info = {{"chain_id", chain_id},          {"diff_id", layer.diff_id},
                         {"digest", layer.digest},        {"media_type", layer.media_type},
                         {"tar_bytes", stats->tar_bytes}, {"entries", stats->entries}};
  if (absl::Status s = runtime::WriteFileAtomic(tmp + "/info.json", info.dump()); !s.ok()) return s;
  if (absl::Status s = runtime::WriteFileAtomic(tmp + "/chain_id", chain_id); !s.ok()) return s;
  // Everything unpacked reaches the disk before the name that commits it.
  runtime::UniqueFd fd(open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || syncfs(fd.get()) != 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("syncfs ", tmp));
  int64_t id;
  {
    absl::MutexLock l(&mu_);
    id = next_id_++;
  }
  const std::string dir = absl::StrCat(root_, "/snapshots/", id);
  if (rename(tmp.c_str(), dir.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("rename ", tmp, " to ", dir));
  }
  std::move(remove_tmp).Cancel();
  if (absl::Status s = SyncDir(root_ + "/snapshots"); !s.ok())
    spdlog::warn("snapshotter: {}", s.ToString());
  SnapshotInfo snap{chain_id, dir + "/fs", id};
  spdlog::info("snapshotter: unpacked layer {} ({} bytes, {} entries) as {} in {}", layer.digest,
               stats->tar_bytes, stats->entries, dir, absl::FormatDuration(absl::Now() - start));
  absl::MutexLock l(&mu_);
  by_chain_[chain_id] = snap;
  return snap;
}

absl::Status Snapshotter::Prune(const std::set<std::string>& keep_chain_ids) {
  std::vector<std::string> candidates;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [chain, info] : by_chain_) {
      if (keep_chain_ids.count(chain) == 0) candidates.push_back(chain);
    }
  }
  for (const std::string& chain : candidates) {
    absl::MutexLock chain_lock(ChainLock(chain));
    SnapshotInfo info;
    {
      absl::MutexLock l(&mu_);
      auto it = by_chain_.find(chain);
      if (it == by_chain_.end()) continue;
      info = it->second;
      by_chain_.erase(it);
    }
    // Out of snapshots/ in one step; a crash leaves a tmp- for Open.
    const std::string dir = absl::StrCat(root_, "/snapshots/", info.id);
    const std::string doomed = absl::StrCat(root_, "/tmp-prune-", info.id);
    if (rename(dir.c_str(), doomed.c_str()) != 0) {
      absl::Status s =
          absl::ErrnoToStatus(errno, absl::StrCat("prune snapshot ", chain, ": rename ", dir));
      absl::MutexLock l(&mu_);
      by_chain_[chain] = info;  // still committed
      return s;
    }
    if (absl::Status s = runtime::RemoveTree(doomed); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("prune snapshot ", chain, ": ", s.message()));
    }
    spdlog::info("snapshotter: pruned {} ({})", chain, dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, int64_t>> Snapshotter::Usage() const {
  std::map<std::string, int64_t> out;
  for (const SnapshotInfo& s : List()) {
    std::set<std::pair<dev_t, ino_t>> seen;
    int64_t bytes = 0;
    AddUsage(s.path, &seen, &bytes);
    out[s.chain_id] = bytes;
  }
  return out;
}

std::vector<SnapshotInfo> Snapshotter::List() const {
  absl::MutexLock l(&mu_);
  std::vector<SnapshotInfo> out;
  for (const auto& [chain, info] : by_chain_) out.push_back(info);
  std::sort(out.begin(), out.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.id < b.id; });
  return out;
}

}  // namespace berth::snapshot
