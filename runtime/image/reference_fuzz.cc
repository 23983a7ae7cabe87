// Fuzzes image reference parsing: ParseReference and the local image
// store's ParseImageReference. Properties: a parsed reference is
// normalised (its String() parses back to the same Reference, and its
// parts obey the grammar the header states), and the store's name and tag
// come from a reference ParseReference accepts without a digest.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/image/image_store.h"
#include "runtime/image/reference.h"

namespace {

void Check(bool ok, const char* what, const std::string& input) {
  if (!ok) {
    std::fprintf(stderr, "reference_fuzz: property violated for \"%s\": %s\n", input.c_str(), what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<berth::image::Reference> ref = berth::image::ParseReference(input);
  if (ref.ok()) {
    Check(!ref->domain.empty() && !ref->path.empty(), "domain and path are set", input);
    Check(!ref->tag.empty() || !ref->digest.empty(), "a tag or a digest", input);
    Check(ref->digest.empty() || berth::image::IsValidDigest(ref->digest), "digest is valid",
          input);
    Check(ref->path.find("..") == std::string::npos, "no .. in a path", input);
    Check(ref->String().rfind(ref->Name(), 0) == 0, "String() starts with Name()", input);
    absl::StatusOr<berth::image::Reference> again = berth::image::ParseReference(ref->String());
    Check(again.ok() && *again == *ref, "String() parses back to the same reference", input);
  } else {
    Check(absl::IsInvalidArgument(ref.status()), "rejections are kInvalidArgument", input);
  }

  std::string name, tag;
  absl::Status s = berth::image::ParseImageReference(input, &name, &tag);
  if (s.ok()) {
    Check(ref.ok() && ref->digest.empty(), "the store accepts only digest-free references", input);
    Check(!name.empty() && !tag.empty(), "name and tag are set", input);
    Check(name.find("..") == std::string::npos, "no .. in a store name", input);
    Check(tag == ref->tag, "the store's tag is the reference's", input);
  }
  return 0;
}
