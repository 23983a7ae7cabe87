// ManifestSource: a manifests directory (default /etc/berth/manifests) as the
// source of desired NodeContainers on a standalone node, like kubelet's static
// pod directory.
//
// Files considered: entries directly in the directory whose name ends in
// ".yaml", ".yml" or ".json" and does not start with ".". Symlinks are
// followed as long as they resolve below the directory (itself resolved, so a
// manifests directory that is a symlink works), so the layout of a Kubernetes
// ConfigMap volume works (`x.yaml -> ..data/x.yaml`,
// `..data -> ..2026_01_01_...`, swapped atomically by renaming `..data`).
//  * A name that resolves outside the directory (`x.yaml -> /etc/shadow`) is
//    refused unread: an error for that file (see below). Whoever may write the
//    directory must not be able to get other files into the log.
//  * A candidate name that is a directory, a FIFO, a socket or a device (or a
//    symlink to one) is not read (a FIFO is never opened) and contributes
//    nothing; an error naming it and its type is in `errors` (and logged once)
//    for as long as it is there.
//  * Hidden entries, other names, the contents of subdirectories and dangling
//    symlinks (a ConfigMap key being removed) are ignored silently.
//
// Each Scan re-reads every candidate file (at most kMaxManifestBytes + 1
// bytes) and re-parses it only when its bytes differ from the last ones read;
// Scan(change), after the directory watcher's report, re-reads only the
// names reported, every symlinked file and every file whose last read
// failed. With many files to read (64 or more a core: a start, a resync, a
// ConfigMap swap) they are read and parsed on every core, up to 8 threads;
// what the Scan then does with them is the same as for files read one by
// one, in name order.
//
// Failures keep the last good state:
//  * A file that fails (unreadable, a symlink out of the directory, larger
//    than 1 MiB, syntax error, any invalid document, a NodeContainer defined
//    twice in it) is reported in `errors` and keeps contributing exactly the
//    objects it yielded at its last successful parse (none if it never
//    parsed). A file is applied whole or not
//    at all: good documents next to a bad one are not applied either.
//  * A missing or unreadable directory is reported and keeps all objects
//    (a briefly missing directory must not stop every container).
// A file that no longer exists (or is no longer a candidate) contributes
// nothing: its objects are removed.
//
// The same id (ContainerIdFor) from two files is an error naming both; the file
// that owned the id at the previous Scan keeps it, else the lexicographically
// first file name wins. The other objects of the losing file are applied.
//
// Errors are recomputed on every Scan, so fixing a file clears its errors.
// Each error is logged once, at the Scan where it appears (or changes).
// Errors quote at most a short, escaped part of a file's content (see
// spec_parser.h); a file that is not a NodeContainer at all gets one error.
//
// Watched (Source::Watch), the source pushes what each Rescan finds: the ids
// Scan returns, and OnResync when what MayRemove looks at changed (the
// failing files, whether their objects are unknown, whether the directory
// could be read), since containers it does not hold may then be kept or
// removed. Start watches the directory (a DirectoryWatcher: a completed
// change is read within a few ms, none waits longer than the debounce) and
// rescans on every change; Resync (the periodic resync, SIGHUP) rescans.
//
// Thread-safe: Snapshot and Get may be called from any thread while Scan runs
// (typically on the DirectoryWatcher's thread or a resync timer). Concurrent
// Scan calls are serialized.
#ifndef BERTH_CONTROLLER_SOURCES_MANIFEST_SOURCE_H_
#define BERTH_CONTROLLER_SOURCES_MANIFEST_SOURCE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/sources/directory_watcher.h"
#include "controller/sources/source.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

struct SourceSnapshot {
  // Desired objects by ContainerIdFor(metadata).
  std::map<std::string, NodeContainer> objects;
  // Current problems, one per line, each naming its file (with line:col when
  // known) or the directory. Empty when everything was applied.
  std::vector<std::string> errors;
  // Paths of files that currently fail to read or parse; their objects are
  // the last good ones (none if they never parsed, e.g. after a restart).
  std::set<std::string> failed_files;
  // The number of errors of each entry that fails to read or parse (a
  // failing file's own errors, 1 for an entry that is not a regular file):
  // berth_manifest_errors{file}.
  std::map<std::string, int> errors_per_file;
  // Some failing file has not parsed since this source started, so which
  // objects it holds is unknown (e.g. berthd restarted while it was broken).
  bool objects_unknown = false;
  // The directory itself could not be read at the last Scan.
  bool directory_unreadable = false;
};

class ManifestSource : public Source {
 public:
  // `dir` is not read until the first Scan.
  explicit ManifestSource(std::string dir);
  ~ManifestSource() override;  // Stop()

  ManifestSource(const ManifestSource&) = delete;
  ManifestSource& operator=(const ManifestSource&) = delete;

  // Re-reads the directory and returns the ids whose desired object was added,
  // removed or changed since the previous Scan (sorted, unique). The first
  // Scan returns every id found. A change of NodeContainer::source alone (the
  // object moved to another line or file) is not a change, but Snapshot/Get
  // return the new source.
  std::vector<std::string> Scan() ABSL_LOCKS_EXCLUDED(scan_mu_, mu_);
  // Scan after the watcher's report of what changed: the directory is
  // listed in full, and of the files read whole before, only the names
  // `change` reports and every symlinked one are read again (all of them
  // when `change.all`). A file changed with no event in the directory (a
  // hard link written elsewhere) is seen at the next full Scan.
  std::vector<std::string> Scan(const DirectoryChange& change)
      ABSL_LOCKS_EXCLUDED(scan_mu_, mu_);

  // Scan, then pushes to the watching handler (if any) what changed: each
  // id Scan returned, and OnResync when the inputs of MayRemove changed.
  void Rescan() ABSL_LOCKS_EXCLUDED(scan_mu_, mu_);
  // The same with Scan(change): after the watcher's report.
  void Rescan(const DirectoryChange& change) ABSL_LOCKS_EXCLUDED(scan_mu_, mu_);

  // Starts watching the directory, then rescans (what changed since the
  // first Scan). If the directory cannot be watched, that is logged and
  // changes are noticed at each Resync only.
  void Start(absl::Duration debounce = absl::Milliseconds(100));
  // Stops watching; no Rescan from the watcher starts after it returns.
  // Idempotent.
  void Stop();

  // A copy of the state after the last Scan.
  SourceSnapshot Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // Snapshot without the objects (cheap: for each scrape of the metrics).
  SourceSnapshot Problems() const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls `f` with the state after the last Scan, not copied: under a
  // reader lock, so `f` must not call back into this source (a Scan waits
  // for it).
  void Visit(const std::function<void(const SourceSnapshot&)>& f) const ABSL_LOCKS_EXCLUDED(mu_);

  // The desired object with this id after the last Scan, if any.
  std::optional<NodeContainer> Get(const std::string& id) const override ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& dir() const { return dir_; }

  // Source. Get is the one above.
  std::string Name() const override { return "manifests"; }
  std::vector<std::string> Ids() const override ABSL_LOCKS_EXCLUDED(mu_);
  // False while the directory is unreadable, while a file that has not
  // parsed since start fails (its objects are unknown), and for a container
  // whose own file (berth.dev/source-file) fails now.
  bool MayRemove(const runtime::ContainerStatus& container) const override ABSL_LOCKS_EXCLUDED(mu_);
  void Watch(Handler* handler) override { handler_ = handler; }
  void Resync() override { Rescan(); }

 private:
  // What Scan remembers about one candidate file (by file name).
  struct FileState {
    // The bytes read last time, if the last read succeeded.
    std::optional<std::string> content;
    // Outcome of parsing `content`: errors (empty when it parsed cleanly).
    std::vector<std::string> parse_errors;
    // The objects of the last successful parse, ever. Kept while the file
    // fails.
    std::vector<NodeContainer> last_good;
    // Its name was a symlink at the last read: always read again.
    bool via_symlink = false;
    // The last read got the whole file (not an error).
    bool read_ok = false;
  };

  const std::string dir_;

  absl::Mutex scan_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(scan_mu_);
  // id -> file name that supplied it at the last Scan.
  std::map<std::string, std::string> owners_ ABSL_GUARDED_BY(scan_mu_);

  mutable absl::Mutex mu_;
  SourceSnapshot state_ ABSL_GUARDED_BY(mu_);

  std::atomic<Handler*> handler_{nullptr};
  // Last: stopped first, as its callback uses the rest.
  std::unique_ptr<DirectoryWatcher> watcher_;
};

// Whether two objects describe the same desired state: metadata and spec are
// compared field by field; NodeContainer::source is ignored, and so is
// metadata.resourceVersion when asked.
enum class ResourceVersion { kCompared, kIgnored };
bool SameDesiredState(const NodeContainer& a, const NodeContainer& b,
                      ResourceVersion resource_version = ResourceVersion::kCompared);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCES_MANIFEST_SOURCE_H_
