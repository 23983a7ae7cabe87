// A small Kubernetes API client on cpprestsdk: JSON requests and streaming
// watches against one API server.
//
// One web::http::client::http_client per ApiClient, reused by every call (its
// connection pool keeps connections open). TLS is verified against
// ClusterConfig::ca_pem (only that CA when given, else the system CAs), with
// the server's host name or IP address checked against the certificate,
// unless insecure_skip_tls_verify. A client certificate is presented when
// configured. A bearer token is sent when configured; with a token file the
// file is re-read whenever its modification time changes, so rotated
// service account tokens are picked up.
//
// Thread-safe: Request and Watch may be called from any number of threads at
// once. A Watch blocks its calling thread until the stream ends.
#ifndef BERTH_CONTROLLER_KUBE_API_CLIENT_H_
#define BERTH_CONTROLLER_KUBE_API_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/kube/kubeconfig.h"
#include "nlohmann/json.hpp"

namespace web::http::client {
class http_client;
}  // namespace web::http::client

namespace berth::kube {

// An HTTP answer of the API server. `body` is the parsed JSON body (a
// metav1.Status for most errors), null when empty, or a JSON string holding
// the raw text when the body is not JSON.
struct ApiResponse {
  int code = 0;
  nlohmann::json body;
  // A 429 or 5xx answer's Retry-After (whole seconds, as client-go reads
  // it: checkWait in rest/request.go); zero when absent or unreadable.
  absl::Duration retry_after = absl::ZeroDuration();
};

// The message of a metav1.Status body, or the raw body, for error texts.
std::string ResponseMessage(const ApiResponse& response);

// Maps a non-2xx answer to a status code: 404 kNotFound, 409 kAborted
// (conflict: re-read), 410 kOutOfRange (expired resourceVersion),
// 400/422 kInvalidArgument, 401/403 kPermissionDenied, 429 and 5xx
// kUnavailable, anything else kUnknown. The message is
// "<action>: <code> <message>".
// A Retry-After travels with the status as a payload (RetryAfter reads it),
// at most a minute.
absl::Status ResponseError(const ApiResponse& response, absl::string_view action);

// How long the server asked to wait before trying again (a 429 or 5xx
// answer's Retry-After, carried by ResponseError's status); zero if it did
// not. Retries wait at least that long, as client-go's do.
absl::Duration RetryAfter(const absl::Status& status);

// A cancellation that a Watch (or Request) observes: Cancel() closes its
// connection promptly. Thread-safe. Once cancelled, stays cancelled.
class Cancellation {
 public:
  Cancellation();
  ~Cancellation();
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  void Cancel();
  bool Cancelled() const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// "a=b&c=d" query building with percent-encoding of names and values.
std::string QueryEscape(absl::string_view s);

class ApiClient {
 public:
  struct Options {
    // Default timeout of Request: the whole exchange must finish within it.
    absl::Duration request_timeout = absl::Seconds(30);
    // User-Agent header.
    std::string user_agent = "berthd";
  };

  // Validates the config (server URL, PEM data) and builds the client. No
  // request is sent. kInvalidArgument for an unusable config.
  static absl::StatusOr<std::unique_ptr<ApiClient>> Create(const ClusterConfig& config);
  static absl::StatusOr<std::unique_ptr<ApiClient>> Create(const ClusterConfig& config,
                                                           Options options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const ClusterConfig& config() const { return config_; }

  // Sends `method` (GET, POST, PUT, PATCH, DELETE) to `path_with_query`
  // ("/api/v1/namespaces/default/events?limit=1"; already escaped) with
  // `body` serialized as `content_type`. Any HTTP answer, including 4xx and
  // 5xx, is returned as an ApiResponse: callers decide. Errors: kUnavailable
  // when no answer arrived (connection refused or closed, TLS failure,
  // timeout: `timeout`, or Options::request_timeout when zero), kCancelled
  // when `cancel` was cancelled, kInvalidArgument for a malformed path.
  absl::StatusOr<ApiResponse> Request(const std::string& method, const std::string& path_with_query,
                                      const std::optional<nlohmann::json>& body = std::nullopt,
                                      const std::string& content_type = "application/json",
                                      absl::Duration timeout = absl::ZeroDuration(),
                                      const Cancellation* cancel = nullptr);

  // Called with each complete line of a watch stream (without the newline;
  // empty lines are skipped). Return false to end the watch.
  using LineCallback = std::function<bool(absl::string_view line)>;

  // Opens a streaming GET of `path_with_query` (a watch: "...?watch=1&...")
  // and calls `on_line` for every newline-terminated line as it arrives, on
  // the calling thread. Returns when the stream ends:
  //  * the server ended it (clean end of a chunked body): ApiResponse{200};
  //  * the server answered with something other than 200: that ApiResponse
  //    (e.g. 410 for a too old resourceVersion), body read whole;
  //  * `on_line` returned false: ApiResponse{200};
  //  * `cancel` was cancelled: kCancelled;
  //  * nothing arrived for `inactivity_timeout`, the connection failed or
  //    broke, or a line grew over 16 MiB: kUnavailable.
  // Headers must arrive within Options::request_timeout.
  absl::StatusOr<ApiResponse> Watch(const std::string& path_with_query, const LineCallback& on_line,
                                    const Cancellation& cancel, absl::Duration inactivity_timeout);

  // The Authorization header value in use now ("Bearer ..."), re-reading the
  // token file if it changed; empty when no token is configured. Exposed for
  // tests.
  std::string AuthorizationHeader() ABSL_LOCKS_EXCLUDED(token_mu_);

 private:
  ApiClient(ClusterConfig config, Options options);

  const ClusterConfig config_;
  const Options options_;
  std::unique_ptr<web::http::client::http_client> http_;

  absl::Mutex token_mu_;
  int64_t token_mtime_ns_ ABSL_GUARDED_BY(token_mu_) = -1;
  int64_t token_size_ ABSL_GUARDED_BY(token_mu_) = -1;
  std::string file_token_ ABSL_GUARDED_BY(token_mu_);
};

}  // namespace berth::kube

#endif  // BERTH_CONTROLLER_KUBE_API_CLIENT_H_
