// Imports images from files into a ContentStore, verifying every digest:
// an OCI image layout directory (oci-layout, index.json, blobs/) and an
// image archive tarball, either `docker save` format (manifest.json, layer
// tars) or an OCI layout in a tar.
#ifndef BERTH_RUNTIME_IMAGE_IMPORT_H_
#define BERTH_RUNTIME_IMAGE_IMPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/image/content_store.h"
#include "runtime/image/image_record.h"
#include "runtime/image/puller.h"

namespace berth::image {

struct ImportOptions {
  // The reference to register the image under. Required when the source
  // names an image only by a tag (OCI layouts' ref.name "1") or not at all;
  // with several images in the source it names the one whose tag equals
  // its tag, or else the first.
  std::string reference;
  // The platform an index resolves to.
  Platform platform = NodePlatform();
};

// Imports from `path`: a directory is an OCI layout, a file an archive.
// Registers the references the source names (OCI: the
// org.opencontainers.image.ref.name or io.containerd.image.name
// annotations when they are full references; docker: RepoTags) and
// options.reference. Returns the records written. Errors are
// `import image <path>: <cause>`; a blob that does not match its digest is
// kDataLoss and is not committed (a failed archive import also removes the
// blobs it added that no record uses); a source that names no usable
// reference is kInvalidArgument.
absl::StatusOr<std::vector<ImageRecord>> ImportImage(ContentStore* store, const std::string& path,
                                                     const ImportOptions& options = {});

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_IMPORT_H_
