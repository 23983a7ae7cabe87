// SHA-256 digests ("sha256:<64 hex>") with OpenSSL EVP.
#ifndef BERTH_RUNTIME_IMAGE_DIGEST_H_
#define BERTH_RUNTIME_IMAGE_DIGEST_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace berth::image {

// Incremental SHA-256; move-only.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // "sha256:<hex>" of everything so far; the hasher starts over afterwards.
  std::string Final();
  // Forgets everything so far.
  void Reset();

 private:
  EVP_MD_CTX* ctx_ = nullptr;
};

// "sha256:<hex>" of `data`.
std::string DigestOf(absl::string_view data);

// The 64 hex digits of a valid digest ("sha256:abc..." -> "abc...").
inline absl::string_view DigestHex(absl::string_view digest) {
  return digest.substr(digest.find(':') + 1);
}

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_DIGEST_H_
