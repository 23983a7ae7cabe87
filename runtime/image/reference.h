// Image references (docker.io/library/busybox:latest), parsed and normalised
// the way docker and containerd do it.
#ifndef BERTH_RUNTIME_IMAGE_REFERENCE_H_
#define BERTH_RUNTIME_IMAGE_REFERENCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::image {

// A normalised reference: `domain` is never empty ("docker.io" for Docker
// Hub, whose one-component names get "library/"); `tag` is "latest" when
// the input names neither tag nor digest; `digest` is "sha256:<64 hex>" or
// empty. Both tag and digest may be set (`name:tag@sha256:...`); the
// digest then decides what is pulled.
struct Reference {
  std::string domain;
  std::string path;
  std::string tag;
  std::string digest;

  // "docker.io/library/busybox"
  std::string Name() const;
  // "docker.io/library/busybox:latest", "...:1@sha256:..." or "...@sha256:..."
  std::string String() const;
  // The digest when set, else the tag: what to ask the registry for.
  const std::string& TagOrDigest() const { return digest.empty() ? tag : digest; }

  friend bool operator==(const Reference& a, const Reference& b) {
    return a.domain == b.domain && a.path == b.path && a.tag == b.tag && a.digest == b.digest;
  }
};

// Parses and normalises `ref`:
//   busybox                         -> docker.io/library/busybox:latest
//   user/app                        -> docker.io/user/app:latest
//   registry.example:5000/team/app:1.2, localhost/x (a first component with
//   a '.' or ':' or "localhost" is a registry host)
//   name@sha256:<64 hex>, name:tag@sha256:<64 hex>
// Path components must be lowercase ([a-z0-9] separated by '.', '_', '__'
// or '-'s), tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, digests are
// sha256 with 64 lowercase hex digits. kInvalidArgument otherwise:
//   `parse image reference "Foo": repository name must be lowercase`.
absl::StatusOr<Reference> ParseReference(absl::string_view ref);

// True when `digest` is "sha256:" followed by 64 lowercase hex digits.
bool IsValidDigest(absl::string_view digest);

// kInvalidArgument unless IsValidDigest; names the algorithm problem.
absl::Status ValidateDigest(absl::string_view digest);

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_REFERENCE_H_
