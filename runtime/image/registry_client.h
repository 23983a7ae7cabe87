// A client of the Docker Registry HTTP API v2 (distribution spec) on
// cpprestsdk: manifests, blobs streamed into a ContentStore, and the auth
// flows registries use (anonymous, basic, bearer tokens from a
// WWW-Authenticate challenge).
#ifndef BERTH_RUNTIME_IMAGE_REGISTRY_CLIENT_H_
#define BERTH_RUNTIME_IMAGE_REGISTRY_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/image/auth_config.h"
#include "runtime/image/content_store.h"
#include "runtime/image/image_record.h"
#include "runtime/image/reference.h"

namespace berth::image {

// Stops the pulls of every client that shares it (berthd's shutdown):
// requests in flight and those to come fail with kCancelled, and a blob's
// partial download is kept for the next pull to resume. Thread-safe.
class PullCancellation {
 public:
  PullCancellation();
  ~PullCancellation();
  PullCancellation(const PullCancellation&) = delete;
  PullCancellation& operator=(const PullCancellation&) = delete;

  void Cancel();
  bool cancelled() const;

 private:
  friend struct PullCancellationAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RegistryClientOptions {
  // Credentials per registry domain (docker config.json "auths").
  DockerAuthConfig auth;
  // Registries ("host:port" as in references) spoken to over plain HTTP.
  // Nothing is insecure unless listed here (not even 127.0.0.1).
  std::set<std::string> insecure_registries;
  // Extra CA files (PEM) trusted for a registry's HTTPS besides the
  // system's CAs, by registry domain.
  std::map<std::string, std::string> ca_files;
  // A request fails with kUnavailable after this long without progress
  // (connect, headers, or between body reads).
  absl::Duration timeout = absl::Seconds(30);
  // Redirects followed per request (registries send blobs to storage).
  int max_redirects = 5;
  std::string user_agent = "berth";
  // Optional; copies of the options share it.
  std::shared_ptr<PullCancellation> cancellation;
};

// A manifest or index as the registry served it.
struct FetchedManifest {
  std::string media_type;  // from Content-Type, else the body's mediaType
  std::string digest;      // sha256 of the body, verified when asked by digest
  std::string body;
};

// Bytes of a blob arrived so far (called from the downloading thread).
using ProgressFn = std::function<void(int64_t bytes_so_far)>;

// Thread-safe. Errors: 401/403 kPermissionDenied, 404 kNotFound ("manifest
// unknown"), transport failures, timeouts, 429 and 5xx kUnavailable, bad
// content kDataLoss (digest) or kInvalidArgument (unsupported or malformed),
// kCancelled once options.cancellation is cancelled.
class RegistryClient {
 public:
  explicit RegistryClient(RegistryClientOptions options);
  ~RegistryClient();

  // GET /v2/ on `domain`: OK when the registry answers (200, or 401 which
  // only says auth is needed for content).
  absl::Status Ping(const std::string& domain);

  // GET /v2/<path>/manifests/<tag_or_digest> accepting OCI index, OCI
  // manifest, Docker manifest list and schema 2. Schema 1 is
  // kInvalidArgument. When `tag_or_digest` is a digest the body must hash
  // to it (kDataLoss otherwise). Manifests are at most 4 MiB.
  absl::StatusOr<FetchedManifest> GetManifest(const Reference& ref,
                                              const std::string& tag_or_digest);

  // Streams blob `desc` of repository `ref` into `store` (resuming a
  // partial with an HTTP Range request, following redirects), verified by
  // the store against desc.digest and desc.size. `action` prefixes errors.
  absl::Status FetchBlob(const Reference& ref, const Descriptor& desc, ContentStore* store,
                         const std::string& action, const ProgressFn& progress = nullptr);

  // The scheme and host requests for `domain` go to, e.g.
  // "https://registry-1.docker.io" for docker.io.
  std::string BaseUrl(const std::string& domain) const;

 private:
  class Http;
  struct Response;
  // Sends a GET to `url` (under BaseUrl(ref.domain)) with auth for pulling
  // ref's repository; follows redirects; re-authenticates once on 401.
  absl::StatusOr<Response> Get(const Reference& ref, const std::string& url,
                               std::map<std::string, std::string> headers,
                               const std::string& action);
  // The Authorization header value for `domain`/`scope` after a challenge,
  // or "" when anonymous.
  absl::StatusOr<std::string> Authorize(const std::string& domain, const std::string& scope,
                                        const std::string& www_authenticate,
                                        const std::string& action);
  std::string CachedAuthorization(const std::string& domain, const std::string& scope);
  // `s`, or kCancelled for `what` when the pulls were cancelled meanwhile
  // (a cancelled request fails in whatever way the transport chose).
  absl::Status UnlessCancelled(absl::Status s, const std::string& what) const;

  const RegistryClientOptions options_;
  std::unique_ptr<Http> http_;
  absl::Mutex mu_;
  struct Token {
    std::string header;
    absl::Time expires;
  };
  // domain -> "Basic ..." once a registry asked for basic auth.
  std::map<std::string, std::string> basic_ ABSL_GUARDED_BY(mu_);
  // domain + " " + scope -> bearer token.
  std::map<std::string, Token> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::image

#endif  // BERTH_RUNTIME_IMAGE_REGISTRY_CLIENT_H_
