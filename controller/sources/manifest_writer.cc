#include "controller/sources/manifest_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/sources/manifest_source.h"
#include "controller/spec/spec_parser.h"
#include "runtime/names.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"

namespace berth::controller {
namespace {

std::string ObjectName(const ObjectMeta& meta) {
  return absl::StrCat("NodeContainer ", meta.namespace_, "/", meta.name);
}

bool IsMarker(absl::string_view line, absl::string_view marker) {
  if (!absl::StartsWith(line, marker)) return false;
  return line.size() == marker.size() || line[marker.size()] == ' ' ||
         line[marker.size()] == '\t' || line[marker.size()] == '\r';
}

absl::Status Errno(const std::string& what, int err) { return absl::ErrnoToStatus(err, what); }

absl::Status SyncDir(const std::string& dir) {
  runtime::UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Errno(absl::StrCat("open ", dir), errno);
  if (fsync(fd.get()) != 0) return Errno(absl::StrCat("fsync ", dir), errno);
  return absl::OkStatus();
}

// Writes `content` to `path` (in `dir`) through a hidden temporary file of
// the same directory: fsync, rename, fsync of the directory.
absl::Status WriteAtomically(const std::string& dir, const std::string& path,
                             absl::string_view content, mode_t mode) {
  std::string tmp = absl::StrCat(dir, "/.berth-apply-XXXXXX");
  runtime::UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return Errno(absl::StrCat("write ", path, ": create a temporary file"), errno);
  absl::Cleanup remove_tmp = [&tmp] { unlink(tmp.c_str()); };
  if (fchmod(fd.get(), mode) != 0) return Errno(absl::StrCat("chmod ", tmp), errno);
  for (size_t done = 0; done < content.size();) {
    ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(absl::StrCat("write ", tmp), errno);
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return Errno(absl::StrCat("fsync ", tmp), errno);
  fd.Reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return Errno(absl::StrCat("rename ", tmp, " to ", path), errno);
  }
  std::move(remove_tmp).Cancel();
  return SyncDir(dir);
}

}  // namespace

std::vector<ManifestDocument> SplitDocuments(absl::string_view content) {
  std::vector<ManifestDocument> docs;
  ManifestDocument current;
  int line_no = 0;
  bool ended = false;  // a "..." closed the current document
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_no;
    if (IsMarker(line, "---") || ended) {
      if (!current.text.empty()) docs.push_back(std::move(current));
      current = ManifestDocument{line_no, ""};
      ended = false;
    }
    absl::StrAppend(&current.text, line, "\n");
    if (IsMarker(line, "...")) ended = true;
  }
  if (!current.text.empty()) docs.push_back(std::move(current));
  // StrSplit yields a last, empty piece after a final newline.
  if (!docs.empty() && absl::EndsWith(content, "\n") && absl::EndsWith(docs.back().text, "\n\n")) {
    docs.back().text.pop_back();
  }
  return docs;
}

std::string FileNameFor(const ObjectMeta& meta) {
  return absl::StrCat(ContainerIdFor(meta), ".yaml");
}

ManifestWriter::ManifestWriter(std::string dir, Lookup manifests,
                               std::function<bool(const std::string&)> api_holds)
    : dir_(std::move(dir)), manifests_(std::move(manifests)), api_holds_(std::move(api_holds)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

absl::StatusOr<ManifestWriter::Location> ManifestWriter::Locate(const ObjectMeta& meta) const {
  const std::string id = ContainerIdFor(meta);
  // A container id is one path component (runtime/names.h); checked again
  // here, as this is where it becomes a path.
  if (absl::Status s = runtime::ValidateContainerId(id); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ObjectName(meta), ": ", s.message()));
  }
  const std::string default_path = absl::StrCat(dir_, "/", FileNameFor(meta));
  std::vector<std::string> candidates;
  // Where the manifests source read it from: "<dir>/<file>:<line>".
  if (std::optional<NodeContainer> known = manifests_ ? manifests_(id) : std::nullopt) {
    absl::string_view source = known->source;
    if (size_t colon = source.rfind(':'); colon != absl::string_view::npos) {
      source = source.substr(0, colon);
    }
    absl::string_view file = source;
    if (absl::ConsumePrefix(&file, dir_ + "/") && !file.empty() && !absl::StrContains(file, '/') &&
        source != default_path) {
      candidates.emplace_back(source);
    }
  }
  candidates.push_back(default_path);
  for (const std::string& path : candidates) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return Errno(absl::StrCat("stat ", path), errno);
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is a symlink (a ConfigMap's layout?): change ", ObjectName(meta),
                       " where it points, not through the API"));
    }
    absl::StatusOr<std::string> content = runtime::ReadFile(path, kMaxManifestBytes);
    if (!content.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read ", path, ": ", content.status().message()));
    }
    ParseResult parsed = ParseManifests(*content, path);
    if (!parsed.errors.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " does not parse (", parsed.errors.front().ToString(),
                       "): fix or remove it before changing ", ObjectName(meta)));
    }
    const NodeContainer* mine = nullptr;
    for (const NodeContainer& o : parsed.objects) {
      if (ContainerIdFor(o.metadata) == id) mine = &o;
    }
    if (mine == nullptr) {
      if (path != default_path) continue;  // the source's view is behind
      return absl::FailedPreconditionError(absl::StrCat(
          path, ", the file ", ObjectName(meta), " would be written to, holds other objects"));
    }
    if (parsed.objects.size() != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          ObjectName(meta), " is defined in ", path, " together with ", parsed.objects.size() - 1,
          " other object(s): edit that file, or move ", meta.name, " into a file of its own"));
    }
    return Location{path, *mine};
  }
  return Location{default_path, std::nullopt};
}

absl::StatusOr<std::vector<AppliedObject>> ManifestWriter::Apply(absl::string_view manifest,
                                                                 absl::string_view origin,
                                                                 bool dry_run) {
  absl::MutexLock l(&mu_);
  // 1. Validate everything first: nothing is written unless all of it is good.
  ParseResult parsed = ParseManifests(manifest, origin);
  if (!parsed.errors.empty()) {
    std::vector<std::string> lines;
    for (const ParseError& e : parsed.errors) lines.push_back(e.ToString());
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }
  if (parsed.objects.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": no NodeContainer in the manifest"));
  }
  std::map<std::string, std::string> seen;  // id -> source
  for (const NodeContainer& o : parsed.objects) {
    auto [it, inserted] = seen.emplace(ContainerIdFor(o.metadata), o.source);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          o.source, ": ", ObjectName(o.metadata), " is defined twice (also at ", it->second, ")"));
    }
  }
  // 2. Each object's own document, as given.
  std::vector<std::string> texts;
  for (const ManifestDocument& doc : SplitDocuments(manifest)) {
    ParseResult one = ParseManifests(doc.text, origin);
    if (!one.errors.empty() || one.objects.size() > 1) break;
    if (one.objects.size() == 1) {
      const size_t i = texts.size();
      if (i >= parsed.objects.size() ||
          ContainerIdFor(one.objects[0].metadata) != ContainerIdFor(parsed.objects[i].metadata)) {
        break;
      }
      texts.push_back(doc.text);
    }
  }
  if (texts.size() != parsed.objects.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin,
                     ": its documents cannot be told apart at their \"---\" lines; "
                     "apply one object per file"));
  }
  // 3. Where each goes, and what it changes; still nothing written.
  std::vector<AppliedObject> results;
  for (const NodeContainer& o : parsed.objects) {
    const std::string id = ContainerIdFor(o.metadata);
    if (api_holds_ && api_holds_(id)) {
      return absl::FailedPreconditionError(
          absl::StrCat(ObjectName(o.metadata), " comes from the Kubernetes API; use kubectl"));
    }
    absl::StatusOr<Location> where = Locate(o.metadata);
    if (!where.ok()) return where.status();
    AppliedObject r{o.metadata.namespace_, o.metadata.name, where->path, "created"};
    if (where->current.has_value()) {
      r.result = SameDesiredState(*where->current, o) ? "unchanged" : "configured";
    }
    results.push_back(std::move(r));
  }
  if (dry_run) return results;
  // 4. Write.
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].result == "unchanged") continue;
    mode_t mode = 0600;
    if (struct stat st{}; stat(results[i].file.c_str(), &st) == 0) mode = st.st_mode & 07777;
    if (absl::Status s = WriteAtomically(dir_, results[i].file, texts[i], mode); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("apply ", ObjectName(parsed.objects[i].metadata),
                                                 ": ", s.message()));
    }
  }
  return results;
}

absl::StatusOr<std::string> ManifestWriter::Delete(const std::string& namespace_,
                                                   const std::string& name) {
  if (absl::Status s = runtime::ValidateDnsLabel("namespace", namespace_); !s.ok()) return s;
  if (absl::Status s = runtime::ValidateDnsSubdomain("name", name); !s.ok()) return s;
  ObjectMeta meta;
  meta.namespace_ = namespace_;
  meta.name = name;
  absl::MutexLock l(&mu_);
  if (api_holds_ && api_holds_(ContainerIdFor(meta))) {
    return absl::FailedPreconditionError(
        absl::StrCat(ObjectName(meta), " comes from the Kubernetes API; use kubectl"));
  }
  absl::StatusOr<Location> where = Locate(meta);
  if (!where.ok()) return where.status();
  if (!where->current.has_value()) {
    return absl::NotFoundError(absl::StrCat("nodecontainers \"", name,
                                            "\" not found in namespace \"", namespace_,
                                            "\" (no file of ", dir_, " holds it)"));
  }
  if (unlink(where->path.c_str()) != 0) {
    return Errno(absl::StrCat("delete ", ObjectName(meta), ": remove ", where->path), errno);
  }
  if (absl::Status s = SyncDir(dir_); !s.ok()) return s;
  return where->path;
}

}  // namespace berth::controller
