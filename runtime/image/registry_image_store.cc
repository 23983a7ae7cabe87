#include "runtime/image/registry_image_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/image/auth_config.h"
#include "runtime/image/import.h"
#include "runtime/image/reference.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::image {
namespace {

std::vector<std::string> Strings(const nlohmann::json& config, const char* key) {
  std::vector<std::string> out;
  if (!config.contains(key) || !config[key].is_array()) return out;
  for (const auto& v : config[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// Reads <layer>/etc/<file> when it is a regular file reached without
// symlinks (a layer's symlinks point into the container, not the host).
// kNotFound when the layer does not have it; kFailedPrecondition when it
// hides it (a whiteout) or has something else there.
absl::StatusOr<std::string> ReadImageEtcFile(const std::string& layer, const char* file) {
  struct stat st;
  const std::string etc = layer + "/etc";
  if (lstat(etc.c_str(), &st) != 0) return absl::NotFoundError(etc);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(etc + " is not a directory");
  const std::string path = absl::StrCat(etc, "/", file);
  if (lstat(path.c_str(), &st) != 0) return absl::NotFoundError(path);
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(path + " is not a regular file");
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, path);
  std::string content;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && content.size() < (1u << 20)) content.append(buf, n);
  close(fd);
  return content;
}

// A name from the image's /etc/passwd or /etc/group (the top-most layer that
// has the file), or a number.
std::optional<uint32_t> LookUpId(const std::string& name, const std::vector<std::string>& layers,
                                 const char* file) {
  uint32_t id;
  if (absl::SimpleAtoi(name, &id)) return id;
  for (const std::string& layer : layers) {
    absl::StatusOr<std::string> content = ReadImageEtcFile(layer, file);
    if (absl::IsNotFound(content.status())) continue;
    if (!content.ok()) return std::nullopt;
    for (absl::string_view line : absl::StrSplit(*content, '\n')) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ':');
      if (f.size() >= 3 && f[0] == name && absl::SimpleAtoi(f[2], &id)) return id;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

int DiskUsedPercent(const std::string& path) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0 || st.f_blocks == 0) return 0;
  return static_cast<int>(100 - (100 * st.f_bavail) / st.f_blocks);
}

}  // namespace

RegistryImageStore::RegistryImageStore(RegistryImageStoreOptions options)
    : options_(std::move(options)), dirs_(options_.root) {}

absl::StatusOr<std::unique_ptr<RegistryImageStore>> RegistryImageStore::Open(
    RegistryImageStoreOptions options) {
  std::unique_ptr<RegistryImageStore> s(new RegistryImageStore(std::move(options)));
  absl::StatusOr<std::unique_ptr<image::ContentStore>> content =
      image::ContentStore::Open(s->options_.root + "/content");
  if (!content.ok()) return content.status();
  s->content_ = *std::move(content);
  absl::StatusOr<std::unique_ptr<snapshot::Snapshotter>> snapshots =
      snapshot::Snapshotter::Open(s->options_.root + "/snapshots");
  if (!snapshots.ok()) return snapshots.status();
  s->snapshots_ = *std::move(snapshots);
  if (s->options_.registry.cancellation == nullptr) {
    s->options_.registry.cancellation = std::make_shared<image::PullCancellation>();
  }
  s->client_ = std::make_unique<image::RegistryClient>(s->options_.registry);
  s->puller_ = std::make_unique<image::Puller>(s->content_.get(), s->client_.get());
  return s;
}

void RegistryImageStore::CancelPulls() { options_.registry.cancellation->Cancel(); }

bool RegistryImageStore::Present(const std::string& reference) const {
  return dirs_.Present(reference) || puller_->Get(reference).ok();
}

bool RegistryImageStore::WouldPull(const std::string& reference, ImagePullPolicy policy) const {
  if (dirs_.Present(reference)) return false;
  return ImageStore::WouldPull(reference, policy);
}

absl::StatusOr<ResolvedImage> RegistryImageStore::Resolve(const std::string& reference,
                                                          ImagePullPolicy policy,
                                                          const PullAuth& auth) const {
  if (dirs_.Present(reference)) return dirs_.Resolve(reference, policy, auth);
  absl::StatusOr<image::Reference> ref = image::ParseReference(reference);
  if (!ref.ok()) return ref.status();
  absl::ReaderMutexLock gc(&gc_mu_);
  absl::StatusOr<image::ImageRecord> local = puller_->Get(reference);
  if (policy == ImagePullPolicy::kNever && !local.ok()) {
    return absl::NotFoundError(
        absl::StrCat("image ", ref->String(), " is not present and the pull policy is Never"));
  }
  if (local.ok() && policy != ImagePullPolicy::kAlways) {
    NoteUsed(local->reference);
    absl::StatusOr<ResolvedImage> image = FromRecord(*local, false);
    // A record whose blobs are gone (pruned by another process while it was
    // written) is as good as no record: pull again.
    if (image.ok() || !absl::IsNotFound(image.status()) || policy == ImagePullPolicy::kNever) {
      return image;
    }
    spdlog::warn("image {}: {}; pulling it again", ref->String(), image.status().ToString());
  }

  image::PullOptions pull;
  int64_t last_logged = 0;
  pull.progress = [&](const image::PullProgress& p) {
    if (p.layer_bytes == p.layer_size || p.layer_bytes - last_logged >= (int64_t{16} << 20)) {
      last_logged = p.layer_bytes;
      spdlog::info("pull {}: layer {}/{} {}: {}/{} bytes", p.reference, p.layer_index + 1,
                   p.layer_count, p.layer_digest.substr(0, 19), p.layer_bytes, p.layer_size);
    }
  };
  absl::StatusOr<image::ImageRecord> pulled;
  if (auth.docker_configs.empty()) {
    pulled = puller_->Pull(reference, pull);
  } else {
    // The object's own credentials first, then the node's.
    image::RegistryClientOptions o = options_.registry;
    image::DockerAuthConfig merged;
    for (auto it = auth.docker_configs.rbegin(); it != auth.docker_configs.rend(); ++it) {
      absl::StatusOr<image::DockerAuthConfig> c = image::DockerAuthConfig::Parse(*it);
      if (!c.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("pull image ", reference, ": pull secret: ", c.status().message()));
      if (std::optional<image::Credentials> cred = c->Lookup(ref->domain)) {
        merged.Set(ref->domain, *cred);
      }
    }
    if (merged.Lookup(ref->domain)) o.auth = merged;
    image::RegistryClient client(o);
    image::Puller puller(content_.get(), &client);
    pulled = puller.Pull(reference, pull);
  }
  if (!pulled.ok()) return pulled.status();
  NoteUsed(pulled->reference);
  return FromRecord(*pulled, true);
}

absl::StatusOr<ResolvedImage> RegistryImageStore::FromRecord(const image::ImageRecord& record,
                                                             bool pulled) const {
  std::vector<snapshot::LayerBlob> blobs;
  for (const image::LayerDescriptor& l : record.layers) {
    blobs.push_back({l.digest, l.media_type, l.diff_id, content_->BlobPath(l.digest)});
  }
  absl::StatusOr<std::vector<std::string>> layers = snapshots_->Prepare(blobs);
  if (!layers.ok()) {
    return absl::Status(layers.status().code(), absl::StrCat("unpack image ", record.reference,
                                                             ": ", layers.status().message()));
  }
  ResolvedImage image;
  image.reference = record.reference;
  image.image_id = record.manifest_digest;
  image.pulled = pulled;
  image.layers = *std::move(layers);
  const nlohmann::json& c = record.config.contains("config") && record.config["config"].is_object()
                                ? record.config["config"]
                                : nlohmann::json::object();
  image.entrypoint = Strings(c, "Entrypoint");
  image.cmd = Strings(c, "Cmd");
  image.env = Strings(c, "Env");
  if (c.contains("WorkingDir") && c["WorkingDir"].is_string()) {
    image.working_dir = c["WorkingDir"].get<std::string>();
  }
  if (c.contains("User") && c["User"].is_string() && !c["User"].get<std::string>().empty()) {
    const std::string user = c["User"].get<std::string>();
    std::vector<std::string> ug = absl::StrSplit(user, absl::MaxSplits(':', 1));
    image.uid = LookUpId(ug[0], image.layers, "passwd");
    if (!image.uid) {
      return absl::InvalidArgumentError(absl::StrCat("image ", record.reference, ": user \"", ug[0],
                                                     "\" is not in its /etc/passwd"));
    }
    if (ug.size() == 2) {
      image.gid = LookUpId(ug[1], image.layers, "group");
      if (!image.gid) {
        return absl::InvalidArgumentError(absl::StrCat("image ", record.reference, ": group \"",
                                                       ug[1], "\" is not in its /etc/group"));
      }
    }
  }
  return image;
}

absl::StatusOr<std::vector<std::string>> RegistryImageStore::Import(const std::string& path,
                                                                    const std::string& reference) {
  absl::ReaderMutexLock gc(&gc_mu_);
  image::ImportOptions o;
  o.reference = reference;
  absl::StatusOr<std::vector<image::ImageRecord>> records =
      image::ImportImage(content_.get(), path, o);
  if (!records.ok()) return records.status();
  std::vector<std::string> refs;
  for (const image::ImageRecord& r : *records) {
    if (absl::StatusOr<ResolvedImage> unpacked = FromRecord(r, false); !unpacked.ok()) {
      return unpacked.status();
    }
    refs.push_back(r.reference);
  }
  return refs;
}

std::vector<std::string> RegistryImageStore::List() const {
  std::vector<std::string> refs;
  absl::StatusOr<std::vector<image::ImageRecord>> all = content_->ListImages();
  if (all.ok()) {
    for (const image::ImageRecord& r : *all) refs.push_back(r.reference);
  }
  return refs;
}

int RegistryImageStore::DiskUsed() const {
  return options_.disk_used_percent ? options_.disk_used_percent(options_.root)
                                    : DiskUsedPercent(options_.root);
}

void RegistryImageStore::NoteUsed(const std::string& reference) const {
  absl::MutexLock l(&used_mu_);
  last_used_[reference] = absl::Now();
}

absl::StatusOr<ImageGcReport> RegistryImageStore::CollectGarbage(
    const std::function<std::set<std::string>()>& in_use, bool force) {
  ImageGcReport report;
  report.disk_used_percent = DiskUsed();
  if (!force && report.disk_used_percent < options_.gc_high_percent) return report;
  report.collected = true;
  absl::WriterMutexLock gc(&gc_mu_);
  // Asked with no Resolve running: an image a Resolve just returned is
  // wanted by its source already.
  // References that are not valid image references (directory images with
  // odd names, say) cannot name a pulled image: leave them out.
  std::set<std::string> keep;
  for (const std::string& r : in_use()) {
    absl::StatusOr<image::Reference> ref = image::ParseReference(r);
    if (!ref.ok()) continue;
    keep.insert(ref->String());
    NoteUsed(ref->String());
  }
  absl::StatusOr<std::vector<image::ImageRecord>> records = content_->ListImages();
  if (!records.ok()) return records.status();
  // Least recently used first (kubelet's order): an image not used since
  // berthd started counts from its pull.
  std::vector<std::pair<absl::Time, std::string>> candidates;
  {
    absl::MutexLock l(&used_mu_);
    for (const image::ImageRecord& r : *records) {
      if (keep.count(r.reference) != 0) continue;
      auto used = last_used_.find(r.reference);
      candidates.emplace_back(
          used != last_used_.end() ? used->second : absl::FromUnixSeconds(r.created_unix),
          r.reference);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  // Forced: all of them at once. Otherwise one at a time, until the disk
  // is below the low mark. With none to remove, one pass still removes
  // blobs and snapshots nothing references.
  std::set<std::string> remaining;
  for (const image::ImageRecord& r : *records) remaining.insert(r.reference);
  size_t next = 0;
  do {
    if (force) {
      for (const auto& c : candidates) remaining.erase(c.second);
    } else if (next < candidates.size()) {
      remaining.erase(candidates[next].second);
    }
    ++next;
    absl::StatusOr<image::PruneResult> pruned = puller_->Prune(remaining);
    if (!pruned.ok()) return pruned.status();
    report.removed_images.insert(report.removed_images.end(), pruned->removed_images.begin(),
                                 pruned->removed_images.end());
    report.removed_blobs += pruned->removed_blobs;
    absl::StatusOr<int> snapshots = PruneSnapshots();
    if (!snapshots.ok()) return snapshots.status();
    report.removed_snapshots += *snapshots;
    if (force) break;
    report.disk_used_percent = DiskUsed();
    if (report.disk_used_percent < options_.gc_low_percent) break;
  } while (next < candidates.size());
  {
    absl::MutexLock l(&used_mu_);
    for (const std::string& r : report.removed_images) last_used_.erase(r);
  }
  if (!report.removed_images.empty()) {
    spdlog::info("image GC: removed {} image(s), {} blob(s), {} snapshot(s); disk {}% used",
                 report.removed_images.size(), report.removed_blobs, report.removed_snapshots,
                 report.disk_used_percent);
  }
  return report;
}

absl::StatusOr<int> RegistryImageStore::PruneSnapshots() {
  // The chains of the images left.
  std::set<std::string> chains;
  absl::StatusOr<std::vector<image::ImageRecord>> left = content_->ListImages();
  if (!left.ok()) return left.status();
  for (const image::ImageRecord& r : *left) {
    std::vector<std::string> diff_ids;
    for (const image::LayerDescriptor& l : r.layers) diff_ids.push_back(l.diff_id);
    for (std::string& c : snapshot::ChainIds(diff_ids)) chains.insert(std::move(c));
  }
  const size_t before = snapshots_->List().size();
  if (absl::Status s = snapshots_->Prune(chains); !s.ok()) return s;
  return static_cast<int>(before - snapshots_->List().size());
}

}  // namespace berth::image
