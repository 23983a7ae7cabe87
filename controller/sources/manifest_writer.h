// ManifestWriter: the write side of a manifests directory, for the local
// API's Apply and Delete (berthctl apply/delete). It only writes files; the
// directory's ManifestSource sees them as it sees any edit (its watch), so
// there is no second path into the controller.
//
// Apply(manifest, origin):
//  * Every document is validated with the manifests' own parser
//    (ParseManifests); any error, or the same object twice, fails the whole
//    request with kInvalidArgument carrying the parser's
//    "origin:line:col: field: reason" lines, and nothing is written.
//  * Each object then goes to one file of its own, written atomically (a
//    hidden temporary file in the directory, fsync, rename, fsync of the
//    directory; the source ignores hidden names). Its text is the object's
//    document as given (comments kept).
//  * Which file: the one that holds the object now — the file the
//    manifests source read it from ("path:line" of its source) or, if the
//    source has not read it yet, the default name — re-read and parsed at
//    the time of the call. That file is replaced only when it holds just
//    this object; a file holding other objects too, one that does not parse,
//    or a symlink (a ConfigMap's layout) is kFailedPrecondition naming the
//    file. A new object gets the default name FileNameFor: "<id>.yaml" with
//    id = ContainerIdFor(metadata), i.e. "<namespace>.<name>.yaml" for every
//    name that fits a container id (see node_container.h).
//  * Result per object, as `kubectl apply` prints it: "created" (no file
//    held it), "unchanged" (the file holds the same desired state:
//    SameDesiredState; the file is not touched), "configured" (rewritten).
//  * New files are created with mode 0600 (an env value may be a secret); a
//    rewritten file keeps its mode.
//  * dry_run: the same checks and results; nothing is written.
//  * An object the Kubernetes API holds (`api_holds`) is kFailedPrecondition:
//    "... comes from the Kubernetes API; use kubectl".
//
// Delete(namespace, name): removes the file that holds the object (found as
// above); kFailedPrecondition when that file holds other objects too (or
// does not parse), or when the API holds the object; kNotFound when no file
// of the directory holds it; kInvalidArgument for a name that is not a
// DNS-1123 subdomain (or a namespace not a label): names are checked before
// they reach a path.
//
// Thread-safe: calls are serialized.
#ifndef BERTH_CONTROLLER_SOURCES_MANIFEST_WRITER_H_
#define BERTH_CONTROLLER_SOURCES_MANIFEST_WRITER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

struct AppliedObject {
  std::string namespace_;
  std::string name;
  std::string file;    // the path in the manifests directory
  std::string result;  // "created", "configured" or "unchanged"
};

// One YAML document of a manifest: its text and the 1-based line of the
// manifest it starts at.
struct ManifestDocument {
  int first_line = 1;
  std::string text;
};

// Splits `content` at its document markers (a line starting with "---"
// followed by nothing or a blank, or a "..." line, as YAML does); documents
// holding nothing but blanks and comments are kept (the parser skips them).
std::vector<ManifestDocument> SplitDocuments(absl::string_view content);

// "<ContainerIdFor(meta)>.yaml": always one safe path component.
std::string FileNameFor(const ObjectMeta& meta);

class ManifestWriter {
 public:
  using Lookup = std::function<std::optional<NodeContainer>(const std::string& id)>;

  // `dir`: the manifests directory (must exist). `manifests`: the manifests
  // source's Get (where the object was read from). `api_holds`: whether the
  // Kubernetes API holds an id (empty: standalone, never).
  ManifestWriter(std::string dir, Lookup manifests,
                 std::function<bool(const std::string&)> api_holds);

  absl::StatusOr<std::vector<AppliedObject>> Apply(absl::string_view manifest,
                                                   absl::string_view origin, bool dry_run);
  // The path of the file removed.
  absl::StatusOr<std::string> Delete(const std::string& namespace_, const std::string& name);

 private:
  // Where the object with this id lives now: the file to write and what it
  // holds of the object (nullopt: a new file).
  struct Location {
    std::string path;
    std::optional<NodeContainer> current;
  };
  absl::StatusOr<Location> Locate(const ObjectMeta& meta) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string dir_;  // without a trailing '/'
  const Lookup manifests_;
  const std::function<bool(const std::string&)> api_holds_;
  absl::Mutex mu_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SOURCES_MANIFEST_WRITER_H_
