#include "runtime/image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/image/digest.h"
#include "runtime/image/reference.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"
#include "spdlog/spdlog.h"

namespace berth::image {
namespace {

using runtime::UniqueFd;

constexpr size_t kChunk = 1 << 20;

absl::Status Errno(int err, absl::string_view action, absl::string_view what) {
  return absl::ErrnoToStatus(err, absl::StrCat(action, ": ", what));
}

absl::Status WriteAll(int fd, const void* data, size_t n, int64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write");
    }
    p += w;
    n -= w;
    offset += w;
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || fsync(fd.get()) != 0) return absl::ErrnoToStatus(errno, "fsync " + dir);
  return absl::OkStatus();
}

// Takes an exclusive flock on `fd`, polling until `deadline`.
bool LockUntil(int fd, absl::Time deadline) {
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return false;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Writes into an open file, hashing everything; enforces a size limit.
class FileBlobWriter : public BlobWriter {
 public:
  FileBlobWriter(int fd, int64_t limit, std::string what)
      : fd_(fd), limit_(limit), what_(std::move(what)) {}

  absl::Status Write(const void* data, size_t n) override {
    if (limit_ >= 0 && written_ + static_cast<int64_t>(n) > limit_) {
      return absl::DataLossError(
          absl::StrCat(what_, " size mismatch: more than the expected ", limit_, " bytes"));
    }
    if (absl::Status s = WriteAll(fd_, data, n, written_); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(what_, ": ", s.message()));
    }
    hash_.Update(data, n);
    written_ += n;
    return absl::OkStatus();
  }

  absl::Status Restart() override {
    if (ftruncate(fd_, 0) != 0) return Errno(errno, what_, "truncate partial");
    hash_.Reset();
    written_ = 0;
    return absl::OkStatus();
  }

  int64_t written() const override { return written_; }

  // Hashes the `n` bytes already in the file (a resumed partial).
  absl::Status Adopt(int64_t n) {
    std::string buf(kChunk, '\0');
    int64_t at = 0;
    while (at < n) {
      ssize_t r = pread(fd_, buf.data(), std::min<int64_t>(kChunk, n - at), at);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Errno(r < 0 ? errno : EIO, what_, "read partial");
      hash_.Update(buf.data(), r);
      at += r;
    }
    written_ = n;
    return absl::OkStatus();
  }

  std::string Digest() { return hash_.Final(); }

 private:
  const int fd_;
  const int64_t limit_;
  const std::string what_;
  Sha256 hash_;
  int64_t written_ = 0;
};

bool SameFile(int fd, const std::string& path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

int64_t Allocated(const std::string& dir, bool recurse) {
  int64_t total = 0;
  for (const std::string& name : ListDir(dir)) {
    std::string p = dir + "/" + name;
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (recurse) total += Allocated(p, true);
    } else {
      total += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

}  // namespace

struct ContentStore::Inflight {
  bool done = false;
  absl::Status status;
};

ContentStore::ContentStore(std::string root, ContentStoreOptions options)
    : root_(std::move(root)), options_(options) {}

absl::StatusOr<std::unique_ptr<ContentStore>> ContentStore::Open(std::string root,
                                                                 ContentStoreOptions options) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  for (const char* sub : {"/blobs/sha256", "/ingest", "/images"}) {
    if (absl::Status s = runtime::MakeDirs(root + sub, 0755); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("open content store ", root, ": ", s.message()));
    }
  }
  // Temporary files of unknown-digest ingests are useless after a crash.
  for (const std::string& name : ListDir(root + "/ingest")) {
    if (!absl::StartsWith(name, "tmp-")) continue;
    std::string p = root + "/ingest/" + name;
    UniqueFd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid() && flock(fd.get(), LOCK_EX | LOCK_NB) == 0) unlink(p.c_str());
  }
  return std::unique_ptr<ContentStore>(new ContentStore(std::move(root), options));
}

std::string ContentStore::BlobPath(const std::string& digest) const {
  if (!IsValidDigest(digest)) return "";
  return absl::StrCat(root_, "/blobs/sha256/", DigestHex(digest));
}

std::string ContentStore::PartialPath(const std::string& digest) const {
  return absl::StrCat(root_, "/ingest/", DigestHex(digest), ".partial");
}

bool ContentStore::Has(const std::string& digest) const {
  std::string p = BlobPath(digest);
  struct stat st;
  return !p.empty() && stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<int64_t> ContentStore::Size(const std::string& digest) const {
  std::string p = BlobPath(digest);
  if (p.empty()) return ValidateDigest(digest);
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return Errno(errno, "stat blob " + digest, p);
  return static_cast<int64_t>(st.st_size);
}

absl::StatusOr<std::string> ContentStore::ReadBlob(const std::string& digest,
                                                   int64_t max_bytes) const {
  std::string p = BlobPath(digest);
  if (p.empty()) return ValidateDigest(digest);
  UniqueFd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Errno(errno, "read blob " + digest, p);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno(errno, "read blob " + digest, p);
  if (st.st_size > max_bytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("read blob ", digest, ": ", st.st_size, " bytes, more than ", max_bytes));
  }
  std::string out(st.st_size, '\0');
  size_t at = 0;
  while (at < out.size()) {
    ssize_t r = read(fd.get(), out.data() + at, out.size() - at);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Errno(r < 0 ? errno : EIO, "read blob " + digest, p);
    at += r;
  }
  return out;
}

absl::Status ContentStore::Delete(const std::string& digest) {
  std::string p = BlobPath(digest);
  if (p.empty()) return ValidateDigest(digest);
  if (unlink(p.c_str()) != 0 && errno != ENOENT) return Errno(errno, "delete blob " + digest, p);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ContentStore::List() const {
  std::vector<std::string> out;
  for (const std::string& name : ListDir(root_ + "/blobs/sha256")) {
    std::string d = "sha256:" + name;
    if (IsValidDigest(d)) out.push_back(d);
  }
  return out;
}

absl::StatusOr<int64_t> ContentStore::DiskUsage() const {
  return Allocated(root_ + "/blobs", true) + Allocated(root_ + "/ingest", false) +
         Allocated(root_ + "/images", false);
}

absl::Status ContentStore::Ingest(const std::string& action, const std::string& digest,
                                  int64_t size, const BlobSource& source) {
  if (absl::Status s = ValidateDigest(digest); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(action, ": ", s.message()));
  }
  if (size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(action, ": blob ", digest, ": negative size"));
  }
  auto check_committed = [&]() -> absl::Status {
    absl::StatusOr<int64_t> have = Size(digest);
    if (!have.ok()) return have.status();
    if (*have != size) {
      return absl::DataLossError(absl::StrCat(action, ": blob ", digest,
                                              " size mismatch: descriptor says ", size,
                                              " bytes, the verified blob has ", *have));
    }
    return absl::OkStatus();
  };
  if (Has(digest)) return check_committed();

  std::shared_ptr<Inflight> flight;
  {
    absl::MutexLock lock(&mu_);
    auto it = inflight_.find(digest);
    if (it != inflight_.end()) {
      std::shared_ptr<Inflight> other = it->second;
      if (!mu_.AwaitWithTimeout(absl::Condition(&other->done), options_.ingest_wait)) {
        return absl::UnavailableError(
            absl::StrCat(action, ": blob ", digest, ": timed out waiting for another download"));
      }
      if (!other->status.ok()) return other->status;
      return Has(digest) ? check_committed() : other->status;
    }
    flight = std::make_shared<Inflight>();
    inflight_[digest] = flight;
  }
  absl::Status status = IngestLocked(action, digest, size, source);
  if (status.ok()) status = check_committed();
  absl::MutexLock lock(&mu_);
  flight->status = status;
  flight->done = true;
  inflight_.erase(digest);
  return status;
}

absl::Status ContentStore::IngestLocked(const std::string& action, const std::string& digest,
                                        int64_t size, const BlobSource& source) {
  const std::string path = PartialPath(digest);
  const std::string what = absl::StrCat(action, ": blob ", digest);
  const absl::Time deadline = absl::Now() + options_.ingest_wait;
  for (int attempt = 0; attempt < 2; ++attempt) {
    UniqueFd fd;
    for (int tries = 0;; ++tries) {
      fd.Reset(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
      if (!fd.valid()) return Errno(errno, what, "open " + path);
      if (!LockUntil(fd.get(), deadline)) {
        return absl::UnavailableError(
            absl::StrCat(what, ": timed out waiting for another download of it"));
      }
      // The holder before us may have committed or discarded this file.
      if (SameFile(fd.get(), path)) break;
      if (tries >= 100) return absl::UnavailableError(absl::StrCat(what, ": partial keeps moving"));
    }
    if (Has(digest)) {
      unlink(path.c_str());
      return absl::OkStatus();
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Errno(errno, what, "stat " + path);
    FileBlobWriter writer(fd.get(), size, what);
    int64_t offset = st.st_size;
    if (offset > size) {
      spdlog::warn("{}: discarding a partial of {} bytes, more than the blob's {}", what, offset,
                   size);
      if (absl::Status s = writer.Restart(); !s.ok()) return s;
      offset = 0;
    } else if (offset > 0) {
      if (absl::Status s = writer.Adopt(offset); !s.ok()) return s;
      spdlog::info("{}: resuming at byte {} of {}", what, offset, size);
    }
    const bool resumed = writer.written() > 0;
    absl::Status s = source(writer.written(), &writer);
    if (!s.ok()) {
      // What arrived before a transport failure or a cancellation is kept
      // for the next attempt to resume.
      if (s.code() != absl::StatusCode::kUnavailable &&
          s.code() != absl::StatusCode::kDeadlineExceeded &&
          s.code() != absl::StatusCode::kCancelled) {
        unlink(path.c_str());
      }
      return s;
    }
    absl::Status verdict;
    if (writer.written() != size) {
      verdict = absl::DataLossError(
          absl::StrCat(what, " size mismatch: got ", writer.written(), " bytes, want ", size));
    } else if (std::string got = writer.Digest(); got != digest) {
      verdict = absl::DataLossError(absl::StrCat(what, " digest mismatch: got ", got));
    }
    if (!verdict.ok()) {
      unlink(path.c_str());
      if (resumed && attempt == 0) {
        spdlog::warn("{}; the resumed partial is discarded, fetching again",
                     std::string(verdict.message()));
        continue;
      }
      return verdict;
    }
    if (fsync(fd.get()) != 0) return Errno(errno, what, "fsync " + path);
    const std::string blob = BlobPath(digest);
    if (rename(path.c_str(), blob.c_str()) != 0) return Errno(errno, what, "commit " + blob);
    return FsyncDir(root_ + "/blobs/sha256");
  }
  return absl::InternalError(absl::StrCat(what, ": unreachable"));
}

absl::Status ContentStore::WriteBlob(const std::string& action, const std::string& digest,
                                     absl::string_view data) {
  return Ingest(action, digest, static_cast<int64_t>(data.size()),
                [&](int64_t offset, BlobWriter* w) -> absl::Status {
                  if (offset > 0) {
                    if (absl::Status s = w->Restart(); !s.ok()) return s;
                  }
                  return w->Write(data.data(), data.size());
                });
}

absl::StatusOr<ContentStore::Ingested> ContentStore::IngestByContent(
    const std::string& action, const std::function<absl::Status(BlobWriter*)>& source) {
  std::string tmpl = root_ + "/ingest/tmp-XXXXXX";
  UniqueFd fd(mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd.valid()) return Errno(errno, action, "create temporary file in " + root_ + "/ingest");
  absl::Cleanup remove = [&] { unlink(tmpl.c_str()); };
  flock(fd.get(), LOCK_EX);
  FileBlobWriter writer(fd.get(), -1, action);
  if (absl::Status s = source(&writer); !s.ok()) return s;
  const int64_t size = writer.written();
  const std::string digest = writer.Digest();
  bool created = false;
  if (!Has(digest)) {
    created = true;
    if (fsync(fd.get()) != 0) return Errno(errno, action, "fsync " + tmpl);
    if (rename(tmpl.c_str(), BlobPath(digest).c_str()) != 0) {
      return Errno(errno, action, "commit blob " + digest);
    }
    std::move(remove).Cancel();
    if (absl::Status s = FsyncDir(root_ + "/blobs/sha256"); !s.ok()) return s;
  }
  return Ingested{digest, size, created};
}

std::map<std::string, int64_t> ContentStore::Partials() const {
  std::map<std::string, int64_t> out;
  for (const std::string& name : ListDir(root_ + "/ingest")) {
    absl::string_view hex = name;
    if (!absl::ConsumeSuffix(&hex, ".partial")) continue;
    std::string p = root_ + "/ingest/" + name;
    UniqueFd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!fd.valid() || flock(fd.get(), LOCK_EX | LOCK_NB) != 0 || fstat(fd.get(), &st) != 0) {
      continue;
    }
    out[absl::StrCat("sha256:", hex)] = st.st_size;
  }
  return out;
}

int ContentStore::DiscardPartials() {
  int n = 0;
  for (const std::string& name : ListDir(root_ + "/ingest")) {
    if (!absl::EndsWith(name, ".partial")) continue;
    std::string p = root_ + "/ingest/" + name;
    UniqueFd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid() && flock(fd.get(), LOCK_EX | LOCK_NB) == 0 && SameFile(fd.get(), p) &&
        unlink(p.c_str()) == 0) {
      ++n;
    }
  }
  return n;
}

std::string ContentStore::ImagePath(const std::string& reference) const {
  return absl::StrCat(root_, "/images/", DigestHex(DigestOf(reference)), ".json");
}

absl::Status ContentStore::PutImage(const ImageRecord& record) {
  absl::Status s = runtime::WriteFileAtomic(
      ImagePath(record.reference), ImageRecordToJson(record).dump(), runtime::Durability::kDurable);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("store image ", record.reference, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageRecord> ContentStore::GetImage(const std::string& reference) const {
  absl::StatusOr<std::string> data = runtime::ReadFile(ImagePath(reference), 64 << 20);
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) {
      return absl::NotFoundError(absl::StrCat("get image ", reference, ": not in the store"));
    }
    return absl::Status(data.status().code(),
                        absl::StrCat("get image ", reference, ": ", data.status().message()));
  }
  nlohmann::json j = nlohmann::json::parse(*data, nullptr, false);
  absl::StatusOr<ImageRecord> r = ImageRecordFromJson(j);
  if (!r.ok()) {
    return absl::DataLossError(absl::StrCat("get image ", reference, ": ", r.status().message()));
  }
  if (r->reference != reference) {
    return absl::DataLossError(
        absl::StrCat("get image ", reference, ": record names ", r->reference));
  }
  return r;
}

absl::Status ContentStore::DeleteImage(const std::string& reference) {
  std::string p = ImagePath(reference);
  if (unlink(p.c_str()) != 0 && errno != ENOENT)
    return Errno(errno, "delete image " + reference, p);
  return FsyncDir(root_ + "/images");
}

absl::StatusOr<std::vector<ImageRecord>> ContentStore::ListImages() const {
  std::vector<ImageRecord> out;
  for (const std::string& name : ListDir(root_ + "/images")) {
    if (!absl::EndsWith(name, ".json")) continue;
    absl::StatusOr<std::string> data = runtime::ReadFile(root_ + "/images/" + name, 64 << 20);
    if (!data.ok()) continue;  // removed meanwhile
    absl::StatusOr<ImageRecord> r =
        ImageRecordFromJson(nlohmann::json::parse(*data, nullptr, false));
    if (!r.ok()) {
      spdlog::warn("list images: skipping {}: {}", name, std::string(r.status().message()));
      continue;
    }
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(),
            [](const ImageRecord& a, const ImageRecord& b) { return a.reference < b.reference; });
  return out;
}

}  // namespace berth::image
