// Images as root file systems on this node. The local store keeps one
// directory per image: <dir>/<name>/<tag>/rootfs plus an optional OCI image
// config.json (Entrypoint, Cmd, Env, WorkingDir, User).
#ifndef BERTH_CONTROLLER_IMAGE_STORE_H_
#define BERTH_CONTROLLER_IMAGE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::controller {

struct ResolvedImage {
  std::string reference;  // normalized: name:tag
  // Root file system layers, top-most first (ContainerSpec::rootfs_layers):
  // the local store gives one directory.
  std::vector<std::string> layers;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE
  std::string working_dir;
};

class ImageStore {
 public:
  virtual ~ImageStore() = default;
  // kInvalidArgument for a malformed reference, kNotFound for a missing image.
  virtual absl::StatusOr<ResolvedImage> Resolve(const std::string& reference) const = 0;
};

class LocalImageStore : public ImageStore {
 public:
  explicit LocalImageStore(std::string dir);
  absl::StatusOr<ResolvedImage> Resolve(const std::string& reference) const override;

 private:
  std::string dir_;
};

// Splits "name[:tag]" into its parts; "latest" when no tag. Registry hosts
// and paths are part of the name (e.g. "127.0.0.1:5000/team/app:v1").
// Rejects digests, "..", uppercase names and anything else that could not be
// a path component.
absl::Status ParseImageReference(const std::string& reference, std::string* name,
                                 std::string* tag);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_IMAGE_STORE_H_
