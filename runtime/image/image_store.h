// Images as root file systems on this node. The local store keeps one
// directory per image: <dir>/<name>/<tag>/rootfs plus an optional OCI image
// config.json (Entrypoint, Cmd, Env, WorkingDir, User).
#ifndef BERTH_RUNTIME_IMAGE_IMAGE_STORE_H_
#define BERTH_RUNTIME_IMAGE_IMAGE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/image/pull_policy.h"

namespace berth::image {

struct ResolvedImage {
  std::string reference;  // normalized: name:tag
  // What the reference resolved to: the manifest digest of a pulled image,
  // "dir:<path>" for a directory image. Reported as the status' imageID.
  std::string image_id;
  // Whether this call pulled from a registry.
  bool pulled = false;
  // Root file system layers, top-most first (ContainerSpec::rootfs_layers):
  // the local store gives one directory.
  std::vector<std::string> layers;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE
  std::string working_dir;
  // The image's USER, resolved to numbers; unset: root, or the spec's.
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

// Registry credentials for one pull: Docker config.json documents (the
// content of kubernetes.io/dockerconfigjson Secrets), tried in order.
struct PullAuth {
  std::vector<std::string> docker_configs;
};

class ImageStore {
 public:
  virtual ~ImageStore() = default;
  // The image as layers and defaults, pulled first when `policy` says so:
  // kAlways pulls (cheap when nothing changed: blobs present are not
  // fetched), kIfNotPresent only when it is not present, kNever never.
  // Errors: kInvalidArgument for a malformed reference (terminal),
  // kNotFound when it is not present and not pulled (kNever) or the
  // registry does not have it, and the pull's own codes (kUnavailable,
  // kPermissionDenied, kDataLoss, ...). Thread-safe; may block for as long
  // as a pull takes.
  virtual absl::StatusOr<ResolvedImage> Resolve(const std::string& reference,
                                                ImagePullPolicy policy,
                                                const PullAuth& auth) const = 0;
  // Whether Resolve with kIfNotPresent would not pull.
  virtual bool Present(const std::string& reference) const = 0;
  // Whether Resolve with `policy` would pull from a registry (kubelet says
  // "Pulling" then, and "already present on machine" otherwise).
  virtual bool WouldPull(const std::string& reference, ImagePullPolicy policy) const {
    return policy == ImagePullPolicy::kAlways ||
           (policy == ImagePullPolicy::kIfNotPresent && !Present(reference));
  }
};

// Directory images only: a directory image is used as it is, whatever the
// pull policy (there is nothing to pull it from).
class LocalImageStore : public ImageStore {
 public:
  explicit LocalImageStore(std::string dir);
  absl::StatusOr<ResolvedImage> Resolve(const std::string& reference, ImagePullPolicy policy,
                                        const PullAuth& auth) const override;
  bool Present(const std::string& reference) const override;
  // A directory image is never pulled.
  bool WouldPull(const std::string& reference, ImagePullPolicy policy) const override {
    return false;
  }

 private:
  std::string dir_;
};

// Splits "name[:tag]" into its parts; "latest" when no tag. Registry hosts
// and paths are part of the name (e.g. "127.0.0.1:5000/team/app:v1").
// Rejects digests, "..", uppercase names and anything else that could not be
// a path component.
absl::Status ParseImageReference(const std::string& reference, std::string* name, std::string* tag);

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_IMAGE_STORE_H_
