#include "controller/sources/manifest_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/queue/parallel_for.h"
#include "controller/spec/container_annotations.h"
#include "controller/spec/spec_parser.h"
#include "controller/spec/yaml_reader.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::controller {
namespace {

using ::berth::runtime::UniqueFd;

bool IsCandidateName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  return absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml") ||
         absl::EndsWith(name, ".json");
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

// Outcome of reading one candidate directory entry.
struct ReadResult {
  enum Kind {
    kAbsent,   // gone (raced with a delete) or a dangling symlink
    kSkipped,  // not a regular file (directory, FIFO, ...); `error` says so
    kError,    // exists but cannot be used; `error` says why
    kContent,  // `content` holds the whole file
  };
  Kind kind = kAbsent;
  std::string content;
  std::string error;
  // The name is a symlink: what it leads to can change with no event about
  // the name itself (a ConfigMap volume re-points its `..data`).
  bool via_symlink = false;
};

// "a directory", "a FIFO", ... for a file type other than a regular file.
const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// The absolute path the kernel resolved for the open descriptor `fd`.
absl::StatusOr<std::string> ResolvedPath(int fd) {
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  std::string target(PATH_MAX, '\0');
  ssize_t n = readlink(link.c_str(), target.data(), target.size());
  if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("readlink ", link));
  if (static_cast<size_t>(n) >= target.size()) {
    return absl::OutOfRangeError(absl::StrCat("readlink ", link, ": path too long"));
  }
  target.resize(static_cast<size_t>(n));
  return target;
}

// Whether `path` (absolute, resolved) lies below the directory `dir`
// (absolute, resolved).
bool IsBelow(const std::string& path, const std::string& dir) {
  if (dir == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > dir.size() + 1 && absl::StartsWith(path, dir) && path[dir.size()] == '/';
}

// Reads `name` in the directory `dir_fd`, whose resolved path is `real_dir`,
// following symlinks, at most kMaxManifestBytes + 1 bytes. `path` is for
// messages. A name that resolves outside `real_dir` is refused unread.
ReadResult ReadCandidate(int dir_fd, const std::string& real_dir, const std::string& name,
                         const std::string& path) {
  ReadResult result;
  auto fail = [&](absl::string_view cause) {
    result.kind = ReadResult::kError;
    result.error = absl::StrCat("read manifest ", path, ": ", cause);
    return result;
  };
  // O_PATH opens the name without opening the file itself, so a FIFO or a
  // device is never opened (no blocking, no driver side effects), and what
  // is checked below is what gets read. A name that is no symlink is the
  // directory's own entry (names come from readdir, without '/'), below it
  // by definition; a symlink is followed and where it leads is checked.
  auto open_path = [&](int flags) {
    int fd;
    do {
      fd = openat(dir_fd, name.c_str(), O_PATH | O_CLOEXEC | flags);
    } while (fd < 0 && errno == EINTR);
    return UniqueFd(fd);
  };
  UniqueFd target = open_path(O_NOFOLLOW);
  if (!target.valid()) {
    if (errno == ENOENT) return result;  // kAbsent
    return fail(std::strerror(errno));
  }
  struct stat st;
  if (fstat(target.get(), &st) != 0) return fail(std::strerror(errno));
  if (S_ISLNK(st.st_mode)) {
    result.via_symlink = true;
    UniqueFd followed = open_path(0);
    if (!followed.valid()) {
      if (errno == ENOENT) return result;  // kAbsent (or a dangling link)
      return fail(std::strerror(errno));
    }
    target = std::move(followed);
    absl::StatusOr<std::string> resolved = ResolvedPath(target.get());
    if (!resolved.ok()) return fail(resolved.status().message());
    if (!IsBelow(*resolved, real_dir)) {
      // Whoever may write the directory must not get other files into the
      // log (a link to /etc/shadow would otherwise be parsed and quoted).
      return fail(absl::StrCat("a symlink to ", QuoteForError(*resolved),
                               ", outside the manifests directory ", QuoteForError(real_dir),
                               "; not read"));
    }
    if (fstat(target.get(), &st) != 0) return fail(std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    result.kind = ReadResult::kSkipped;
    result.error = absl::StrCat("read manifest ", path, ": ", FileTypeName(st.st_mode),
                                S_ISDIR(st.st_mode)
                                    ? ", not a file; not read (subdirectories are not searched)"
                                    : ", not a regular file; not read");
    return result;
  }
  // Reopen the very file checked above for reading.
  int fd;
  do {
    fd = open(absl::StrCat("/proc/self/fd/", target.get()).c_str(),
              O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return result;  // kAbsent
    return fail(std::strerror(errno));
  }
  UniqueFd owned(fd);
  // The size checked above is a hint (the file may be written meanwhile): a
  // regular file's short read is its end.
  constexpr size_t kLimit = kMaxManifestBytes + 1;
  std::string content;
  content.resize(
      std::min<size_t>(kLimit, st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 4096));
  size_t used = 0;
  while (true) {
    if (used == content.size()) {
      if (content.size() >= kLimit) break;
      content.resize(std::min(kLimit, content.size() * 2));
    }
    const size_t wanted = content.size() - used;
    ssize_t n = read(fd, content.data() + used, wanted);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::strerror(errno));
    }
    used += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < wanted) break;
  }
  if (used > kMaxManifestBytes) return fail("file larger than 1 MiB");
  content.resize(used);
  result.kind = ReadResult::kContent;
  result.content = std::move(content);
  return result;
}

// What parsing one file's content found.
struct ParseOutcome {
  std::vector<std::string> errors;  // empty when it parsed cleanly
  std::vector<NodeContainer> objects;  // only when it parsed cleanly
};

// Parses `content` of the file at `path`.
ParseOutcome ParseFile(const std::string& path, const std::string& content) {
  ParseResult parsed = ParseManifests(content, path);
  ParseOutcome outcome;
  for (const ParseError& e : parsed.errors) outcome.errors.push_back(e.ToString());
  // The same id twice in one file: the file fails.
  std::map<std::string, const NodeContainer*> seen;
  for (const NodeContainer& obj : parsed.objects) {
    std::string id = ContainerIdFor(obj.metadata);
    auto [it, inserted] = seen.emplace(id, &obj);
    if (!inserted) {
      outcome.errors.push_back(absl::StrCat("duplicate NodeContainer ", id, " in ",
                                            it->second->source, " and ", obj.source));
    }
  }
  // An empty file is far more often one being written (`curl ... > f`,
  // truncated before the new content arrives) than a wish to remove its
  // containers: that takes deleting the file.
  if (outcome.errors.empty() && parsed.objects.empty()) {
    outcome.errors.push_back(absl::StrCat(
        path, ": no NodeContainer in the file (delete the file to remove its containers)"));
  }
  if (outcome.errors.empty()) outcome.objects = std::move(parsed.objects);
  return outcome;
}

// What a Scan found for one name, before it is applied: made for many
// names at once (ParallelFor), applied in name order.
struct Prepared {
  bool reread = false;     // read now (else what was read before stands)
  ReadResult read;         // when reread
  std::optional<ParseOutcome> parsed;  // when the bytes read differ from the last ones
};

std::string IdList(const std::vector<NodeContainer>& objects) {
  std::vector<std::string> ids;
  for (const NodeContainer& obj : objects) {
    ids.push_back(ContainerIdFor(obj.metadata));
  }
  return absl::StrJoin(ids, ", ");
}

}  // namespace

// The networking, probe and lifecycle fields of SameDesiredState.
static bool SameNetworkAndHealth(const NodeContainerSpec& a, const NodeContainerSpec& b) {
  auto port = [](const ContainerPort& p) {
    return std::tie(p.name, p.container_port, p.host_port, p.host_ip, p.protocol);
  };
  auto alias = [](const HostAlias& h) { return std::tie(h.ip, h.hostnames); };
  auto option = [](const DnsOption& o) { return std::tie(o.name, o.value); };
  auto ref = [](const PortRef& r) { return std::tie(r.number, r.name); };
  auto header = [](const HttpHeader& h) { return std::tie(h.name, h.value); };
  auto same_list = [](const auto& x, const auto& y, auto key) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (key(x[i]) != key(y[i])) return false;
    }
    return true;
  };
  auto same_opt = [](const auto& x, const auto& y, auto eq) {
    return x.has_value() == y.has_value() && (!x.has_value() || eq(*x, *y));
  };
  auto handler = [&](const Handler& x, const Handler& y) {
    return same_opt(
               x.exec, y.exec,
               [](const ExecAction& p, const ExecAction& q) { return p.command == q.command; }) &&
           same_opt(x.http_get, y.http_get,
                    [&](const HttpGetAction& p, const HttpGetAction& q) {
                      return std::tie(p.path, p.host, p.scheme) ==
                                 std::tie(q.path, q.host, q.scheme) &&
                             ref(p.port) == ref(q.port) && same_list(p.headers, q.headers, header);
                    }) &&
           same_opt(x.tcp_socket, y.tcp_socket,
                    [&](const TcpSocketAction& p, const TcpSocketAction& q) {
                      return p.host == q.host && ref(p.port) == ref(q.port);
                    }) &&
           same_opt(x.grpc, y.grpc,
                    [](const GrpcAction& p, const GrpcAction& q) {
                      return std::tie(p.port, p.service) == std::tie(q.port, q.service);
                    }) &&
           same_opt(x.sleep, y.sleep, [](const SleepAction& p, const SleepAction& q) {
             return p.seconds == q.seconds;
           });
  };
  auto probe = [&](const Probe& x, const Probe& y) {
    return handler(x.handler, y.handler) &&
           std::tie(x.initial_delay_seconds, x.period_seconds, x.timeout_seconds,
                    x.success_threshold, x.failure_threshold, x.termination_grace_period_seconds) ==
               std::tie(y.initial_delay_seconds, y.period_seconds, y.timeout_seconds,
                        y.success_threshold, y.failure_threshold,
                        y.termination_grace_period_seconds);
  };
  auto dns = [&](const DnsConfig& x, const DnsConfig& y) {
    return x.nameservers == y.nameservers && x.searches == y.searches &&
           same_list(x.options, y.options, option);
  };
  return std::tie(a.hostname, a.dns_policy) == std::tie(b.hostname, b.dns_policy) &&
         same_list(a.ports, b.ports, port) && same_list(a.host_aliases, b.host_aliases, alias) &&
         same_opt(a.dns_config, b.dns_config, dns) &&
         same_opt(a.liveness_probe, b.liveness_probe, probe) &&
         same_opt(a.readiness_probe, b.readiness_probe, probe) &&
         same_opt(a.startup_probe, b.startup_probe, probe) &&
         same_opt(a.lifecycle.post_start, b.lifecycle.post_start, handler) &&
         same_opt(a.lifecycle.pre_stop, b.lifecycle.pre_stop, handler);
}

bool SameDesiredState(const NodeContainer& a, const NodeContainer& b,
                      ResourceVersion resource_version) {
  // Keep in sync with node_container.h (ManifestSourceTest.EqualityCoversAll
  // Fields fails when a struct there changes size).
  auto meta = [](const ObjectMeta& m) {
    return std::tie(m.name, m.namespace_, m.labels, m.annotations, m.generation, m.uid,
                    m.deletion_timestamp, m.finalizers);
  };
  if (resource_version == ResourceVersion::kCompared &&
      a.metadata.resource_version != b.metadata.resource_version) {
    return false;
  }
  auto env = [](const EnvVar& e) { return std::tie(e.name, e.value); };
  auto mount = [](const Mount& m) {
    return std::tie(m.mount_path, m.host_path, m.tmpfs_size_bytes, m.read_only);
  };
  auto limits = [](const ResourceLimits& l) {
    return std::tie(l.cpu_millis, l.memory_bytes, l.pids);
  };
  auto spec = [](const NodeContainerSpec& s) {
    return std::tie(s.image, s.image_pull_policy, s.image_pull_secrets, s.command, s.args,
                    s.working_dir, s.run_as_user, s.run_as_group, s.restart_policy, s.stop_signal,
                    s.termination_grace_period_seconds, s.node_name, s.node_selector,
                    s.host_network);
  };
  if (meta(a.metadata) != meta(b.metadata)) return false;
  if (spec(a.spec) != spec(b.spec)) return false;
  if (limits(a.spec.limits) != limits(b.spec.limits)) return false;
  if (a.spec.env.size() != b.spec.env.size()) return false;
  for (size_t i = 0; i < a.spec.env.size(); ++i) {
    if (env(a.spec.env[i]) != env(b.spec.env[i])) return false;
  }
  if (a.spec.mounts.size() != b.spec.mounts.size()) return false;
  for (size_t i = 0; i < a.spec.mounts.size(); ++i) {
    if (mount(a.spec.mounts[i]) != mount(b.spec.mounts[i])) return false;
  }
  return SameNetworkAndHealth(a.spec, b.spec);
}

ManifestSource::ManifestSource(std::string dir) : dir_(std::move(dir)) {}

ManifestSource::~ManifestSource() { Stop(); }

void ManifestSource::Rescan() { Rescan(DirectoryChange{true, {}}); }

void ManifestSource::Rescan(const DirectoryChange& change) {
  // What MayRemove looks at, beside each container's own file.
  auto guard_inputs = [](const SourceSnapshot& s) {
    return std::make_tuple(s.failed_files, s.objects_unknown, s.directory_unreadable);
  };
  const auto before = guard_inputs(Problems());
  std::vector<std::string> changed = Scan(change);
  const bool guard_changed = guard_inputs(Problems()) != before;
  Handler* handler = handler_.load();
  if (handler == nullptr) return;
  for (const std::string& id : changed) handler->OnChange(id);
  if (guard_changed) handler->OnResync();
}

void ManifestSource::Start(absl::Duration debounce) {
  absl::StatusOr<std::unique_ptr<DirectoryWatcher>> watcher =
      DirectoryWatcher::Start(dir_, debounce, [this](const DirectoryChange& c) { Rescan(c); });
  if (watcher.ok()) {
    watcher_ = *std::move(watcher);
  } else {
    spdlog::warn("{}; changes are noticed at each resync only", watcher.status().ToString());
  }
  Rescan();
}

void ManifestSource::Stop() { watcher_.reset(); }

std::vector<std::string> ManifestSource::Scan() { return Scan(DirectoryChange{true, {}}); }

std::vector<std::string> ManifestSource::Scan(const DirectoryChange& change) {
  absl::MutexLock scan_lock(&scan_mu_);
  const std::set<std::string>* only = change.all ? nullptr : &change.names;

  // List the directory.
  std::vector<std::string> names;
  UniqueFd dir_fd(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string dir_error;
  // Where the directory really is (dir_ may be or contain a symlink): the
  // files read must resolve below it.
  std::string real_dir;
  if (!dir_fd.valid()) {
    dir_error = std::strerror(errno);
  } else if (absl::StatusOr<std::string> resolved = ResolvedPath(dir_fd.get()); !resolved.ok()) {
    dir_error = std::string(resolved.status().message());
  } else {
    real_dir = *std::move(resolved);
    int list_fd = dup(dir_fd.get());
    DIR* d = list_fd >= 0 ? fdopendir(list_fd) : nullptr;
    if (d == nullptr) {
      dir_error = std::strerror(errno);
      if (list_fd >= 0) close(list_fd);
    } else {
      while (true) {
        errno = 0;
        struct dirent* entry = readdir(d);
        if (entry == nullptr) {
          if (errno != 0) dir_error = std::strerror(errno);
          break;
        }
        std::string name = entry->d_name;
        if (IsCandidateName(name)) names.push_back(std::move(name));
      }
      closedir(d);
    }
  }
  if (!dir_error.empty()) {
    // Deliberate choice: keep the last good objects while the directory is
    // missing or unreadable (e.g. a config-management tool recreating it, an
    // unmounted volume) and report it; do not stop every container. Remove
    // the manifests, not the directory, to remove containers.
    absl::MutexLock lock(&mu_);
    std::string error =
        absl::StrCat("read manifests directory ", dir_, ": ", dir_error, "; keeping the ",
                     state_.objects.size(), " NodeContainers from the last successful read");
    if (state_.errors.size() != 1 || state_.errors[0] != error) {
      spdlog::warn("{}", error);
    }
    state_.errors = {std::move(error)};
    state_.directory_unreadable = true;
    return {};
  }
  std::sort(names.begin(), names.end());

  // Read (and, when changed, parse) every candidate.
  std::vector<std::string> errors;
  std::set<std::string> failed_files;
  std::map<std::string, int> errors_per_file;
  bool objects_unknown = false;
  std::set<std::string> present;
  // Reading and parsing are independent per file: with many files to read
  // (a start, a resync, a ConfigMap swap) they run on every core; files_ is
  // only read meanwhile.
  std::vector<Prepared> prepared(names.size());
  ParallelFor(names.size(), [&](size_t i) {
    const std::string& name = names[i];
    Prepared& p = prepared[i];
    // Not reported changed, read whole last time and no symlink: what was
    // read then is what is there.
    const auto known = files_.find(name);
    p.reread = only == nullptr || only->count(name) > 0 || known == files_.end() ||
               !known->second.read_ok || known->second.via_symlink;
    if (!p.reread) {
      p.read.kind = ReadResult::kContent;
      return;
    }
    const std::string path = JoinPath(dir_, name);
    p.read = ReadCandidate(dir_fd.get(), real_dir, name, path);
    if (p.read.kind == ReadResult::kContent &&
        (known == files_.end() || !known->second.content.has_value() ||
         *known->second.content != p.read.content)) {
      p.parsed = ParseFile(path, p.read.content);
    } else {
      std::string().swap(p.read.content);  // the same bytes: not kept twice meanwhile
    }
  });
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::string path = JoinPath(dir_, name);
    const bool reread = prepared[i].reread;
    ReadResult& read = prepared[i].read;
    if (read.kind == ReadResult::kAbsent) continue;
    if (read.kind == ReadResult::kSkipped) {
      // Contributes nothing, like a missing file; reported (and so logged
      // once) for as long as it is there.
      errors.push_back(std::move(read.error));
      errors_per_file[path] = 1;
      continue;
    }
    present.insert(name);
    FileState& file = files_[name];
    std::vector<std::string> file_errors;
    if (read.kind == ReadResult::kError) {
      file.read_ok = false;
      file_errors.push_back(std::move(read.error));
    } else {
      if (std::optional<ParseOutcome>& parsed = prepared[i].parsed; parsed.has_value()) {
        file.parse_errors = std::move(parsed->errors);
        if (file.parse_errors.empty()) file.last_good = std::move(parsed->objects);
        file.content = std::move(read.content);
      }
      if (reread) {
        file.via_symlink = read.via_symlink;
        file.read_ok = true;
      }
      file_errors = file.parse_errors;
    }
    if (!file_errors.empty()) {
      failed_files.insert(path);
      errors_per_file[path] = static_cast<int>(file_errors.size());
      if (file.last_good.empty()) objects_unknown = true;
      errors.insert(errors.end(), file_errors.begin(), file_errors.end());
      if (file.last_good.empty()) {
        errors.push_back(absl::StrCat("apply manifest ", path,
                                      ": not applied; nothing from it is in "
                                      "effect"));
      } else {
        errors.push_back(absl::StrCat("apply manifest ", path,
                                      ": not applied; keeping its last good ", "version (",
                                      IdList(file.last_good), ")"));
      }
    }
  }
  for (auto it = files_.begin(); it != files_.end();) {
    it = present.count(it->first) ? std::next(it) : files_.erase(it);
  }

  // Merge the files' objects (files_ iterates in file-name order).
  std::map<std::string, std::vector<std::pair<const std::string*, const NodeContainer*>>> offers;
  for (const auto& [name, file] : files_) {
    for (const NodeContainer& obj : file.last_good) {
      offers[ContainerIdFor(obj.metadata)].emplace_back(&name, &obj);
    }
  }
  std::map<std::string, NodeContainer> objects;
  std::map<std::string, std::string> owners;
  for (const auto& [id, candidates] : offers) {
    size_t winner = 0;
    auto owner = owners_.find(id);
    if (owner != owners_.end()) {
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (*candidates[i].first == owner->second) winner = i;
      }
    }
    const std::string& winner_file = *candidates[winner].first;
    objects.emplace(id, *candidates[winner].second);
    owners.emplace(id, winner_file);
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (i == winner) continue;
      errors.push_back(absl::StrCat("duplicate NodeContainer ", id, " in ",
                                    JoinPath(dir_, winner_file), " and ",
                                    JoinPath(dir_, *candidates[i].first), "; using the one in ",
                                    JoinPath(dir_, winner_file)));
    }
  }
  owners_ = std::move(owners);

  // What changed. Only Scan writes state_, and scan_mu_ is held, so a reader
  // lock is enough to compare.
  std::vector<std::string> changed;
  std::vector<std::string> new_errors;
  bool errors_cleared = false;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, obj] : state_.objects) {
      auto it = objects.find(id);
      if (it == objects.end() || !SameDesiredState(obj, it->second)) {
        changed.push_back(id);
      }
    }
    for (const auto& [id, obj] : objects) {
      if (state_.objects.count(id) == 0) changed.push_back(id);
    }
    std::set<std::string> old_errors(state_.errors.begin(), state_.errors.end());
    for (const std::string& e : errors) {
      if (old_errors.count(e) == 0) new_errors.push_back(e);
    }
    errors_cleared = errors.empty() && !old_errors.empty();
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  {
    absl::MutexLock lock(&mu_);
    state_.objects = std::move(objects);
    state_.errors = std::move(errors);
    state_.failed_files = std::move(failed_files);
    state_.errors_per_file = std::move(errors_per_file);
    state_.objects_unknown = objects_unknown;
    state_.directory_unreadable = false;
  }

  for (const std::string& e : new_errors) spdlog::warn("{}", e);
  if (errors_cleared) spdlog::info("manifests in {}: all errors cleared", dir_);
  if (!changed.empty()) {
    spdlog::info("manifests in {}: {} NodeContainers changed: {}", dir_, changed.size(),
                 absl::StrJoin(changed, ", "));
  }
  return changed;
}

SourceSnapshot ManifestSource::Snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_;
}

void ManifestSource::Visit(const std::function<void(const SourceSnapshot&)>& f) const {
  absl::ReaderMutexLock lock(&mu_);
  f(state_);
}

SourceSnapshot ManifestSource::Problems() const {
  absl::ReaderMutexLock lock(&mu_);
  SourceSnapshot s;
  s.errors = state_.errors;
  s.failed_files = state_.failed_files;
  s.errors_per_file = state_.errors_per_file;
  s.objects_unknown = state_.objects_unknown;
  s.directory_unreadable = state_.directory_unreadable;
  return s;
}

std::optional<NodeContainer> ManifestSource::Get(const std::string& id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = state_.objects.find(id);
  if (it == state_.objects.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ManifestSource::Ids() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> ids;
  ids.reserve(state_.objects.size());
  for (const auto& [id, object] : state_.objects) ids.push_back(id);
  return ids;
}

bool ManifestSource::MayRemove(const runtime::ContainerStatus& container) const {
  absl::ReaderMutexLock lock(&mu_);
  if (state_.directory_unreadable || state_.objects_unknown) return false;
  const std::string file = ContainerAnnotations::Decode(container.annotations).source_file;
  return file.empty() || state_.failed_files.count(file) == 0;
}

}  // namespace berth::controller
