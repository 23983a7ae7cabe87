#include "controller/kube/api_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/kube/list_watch.h"
#include "cpprest/http_client.h"
#include "cpprest/uri.h"
#include "pplx/pplxtasks.h"
// cpprestsdk's U() macro breaks fmt (spdlog) included after it.
#undef U
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"

namespace berth::kube {

struct Cancellation::Impl {
  pplx::cancellation_token_source source;
};

Cancellation::Cancellation() : impl_(std::make_unique<Impl>()) {}
Cancellation::~Cancellation() = default;
void Cancellation::Cancel() { impl_->source.cancel(); }
bool Cancellation::Cancelled() const { return impl_->source.get_token().is_canceled(); }

namespace {

using web::http::client::http_client;
using web::http::client::http_client_config;

// The asio client's own timer: inactivity on a connection. Every call has a
// tighter deadline of its own; this only has to exceed all of them.
constexpr std::chrono::seconds kTransportTimeout(3600);

// Completion of an asynchronous operation, awaited with a timeout.
template <typename T>
struct Waiter {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  std::optional<T> value ABSL_GUARDED_BY(mu);
  std::string error ABSL_GUARDED_BY(mu);

  void Set(pplx::task<T> t) {
    std::optional<T> v;
    std::string e;
    try {
      v = t.get();
    } catch (const std::exception& ex) {
      e = ex.what();
      if (e.empty()) e = "unknown error";
    } catch (...) {
      e = "unknown error";
    }
    absl::MutexLock l(&mu);
    value = std::move(v);
    error = std::move(e);
    done = true;
  }

  // False on timeout.
  bool Wait(absl::Duration timeout) {
    absl::MutexLock l(&mu);
    return mu.AwaitWithTimeout(absl::Condition(&done), timeout);
  }
};

template <typename T>
std::shared_ptr<Waiter<T>> Watcher(pplx::task<T> task) {
  auto w = std::make_shared<Waiter<T>>();
  task.then([w](pplx::task<T> t) { w->Set(std::move(t)); });
  return w;
}

// cpprestsdk's message when writing a request fails, and how many such
// failures in a row a call tolerates (one per stale pooled connection).
constexpr char kWriteFailed[] = "Failed to write request";
constexpr int kMaxStaleConnections = 16;

// Longest watch event line accepted (objects are at most ~1.5 MiB).
constexpr size_t kMaxLineBytes = 16 << 20;

// Deadline to wait for an operation to wind down after its connection was
// closed by a cancellation.
constexpr absl::Duration kCancelGrace = absl::Seconds(5);

constexpr absl::string_view kRetryAfterPayload = "berth.dev/kube/retry-after";
// A Retry-After longer than this waits this long: the API server asks for
// a second or so, and a misconfigured proxy must not stall berthd for hours.
constexpr absl::Duration kMaxRetryAfter = absl::Minutes(1);

ApiResponse MakeResponse(int code, const std::string& text, const std::string& retry_after = "") {
  ApiResponse r;
  r.code = code;
  int seconds = 0;
  if ((code == 429 || code >= 500) &&
      absl::SimpleAtoi(absl::StripAsciiWhitespace(retry_after), &seconds) && seconds > 0) {
    r.retry_after = absl::Seconds(seconds);
  }
  if (absl::StripAsciiWhitespace(text).empty()) return r;
  r.body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (r.body.is_discarded()) r.body = text;
  return r;
}

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

}  // namespace

std::string QueryEscape(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string ResponseMessage(const ApiResponse& response) {
  if (response.body.is_object() && response.body.contains("message") &&
      response.body["message"].is_string()) {
    return response.body["message"].get<std::string>();
  }
  if (response.body.is_string()) return response.body.get<std::string>();
  if (response.body.is_null()) return "";
  return response.body.dump();
}

absl::Status ResponseError(const ApiResponse& response, absl::string_view action) {
  const std::string msg = absl::StrCat(action, ": ", response.code, " ", ResponseMessage(response));
  const int c = response.code;
  if (c == 404) return absl::NotFoundError(msg);
  if (c == 409) return absl::AbortedError(msg);
  if (c == 410) return absl::OutOfRangeError(msg);
  if (c == 400 || c == 422) return absl::InvalidArgumentError(msg);
  if (c == 401 || c == 403) return absl::PermissionDeniedError(msg);
  if (c == 429 || c >= 500) {
    absl::Status s = absl::UnavailableError(msg);
    if (response.retry_after > absl::ZeroDuration()) {
      s.SetPayload(kRetryAfterPayload,
                   absl::Cord(absl::StrCat(absl::ToInt64Seconds(
                       std::min(response.retry_after, kMaxRetryAfter)))));
    }
    return s;
  }
  return absl::UnknownError(msg);
}

absl::Duration RetryAfter(const absl::Status& status) {
  auto p = status.GetPayload(kRetryAfterPayload);
  int64_t seconds = 0;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &seconds) || seconds <= 0) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(seconds);
}

namespace {

void ConfigureTls(const ClusterConfig& config, boost::asio::ssl::context& ctx) {
  ctx.set_options(boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                  boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
  if (!config.ca_pem.empty()) {
    // Trust only the configured certificates, as client-go does, and, as
    // Go (and curl) do, any of them as an anchor even when it is not
    // self-signed (kubeconfigs sometimes carry the server's own
    // certificate as its "CA").
    X509_STORE* store = X509_STORE_new();
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_cert_store(ctx.native_handle(), store);
    ctx.add_certificate_authority(boost::asio::buffer(config.ca_pem));
  }
  if (!config.client_cert_pem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(config.client_cert_pem));
    ctx.use_private_key(boost::asio::buffer(config.client_key_pem), boost::asio::ssl::context::pem);
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      throw std::runtime_error("the client key does not match the client certificate");
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiClient>> ApiClient::Create(const ClusterConfig& config) {
  return Create(config, Options());
}

absl::StatusOr<std::unique_ptr<ApiClient>> ApiClient::Create(const ClusterConfig& config,
                                                             Options options) {
  const std::string what = absl::StrCat("create API client for ", config.server);
  try {
    web::uri u(config.server);
    if (u.scheme() != "https" && u.scheme() != "http") {
      return absl::InvalidArgumentError(absl::StrCat(what, ": not an http(s) URL"));
    }
    if (u.scheme() == "https") {
      boost::asio::ssl::context ctx(boost::asio::ssl::context::sslv23);
      ConfigureTls(config, ctx);
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what()));
  }
  std::unique_ptr<ApiClient> client(new ApiClient(config, std::move(options)));
  return client;
}

ApiClient::ApiClient(ClusterConfig config, Options options)
    : config_(std::move(config)), options_(std::move(options)) {
  http_client_config cfg;
  cfg.set_timeout(kTransportTimeout);
  cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
  const ClusterConfig tls = config_;
  cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { ConfigureTls(tls, ctx); });
  http_ = std::make_unique<http_client>(web::uri(config_.server), cfg);
}

ApiClient::~ApiClient() = default;

std::string ApiClient::AuthorizationHeader() {
  if (config_.token_file.empty()) {
    return config_.token.empty() ? "" : "Bearer " + config_.token;
  }
  absl::MutexLock l(&token_mu_);
  struct stat st;
  if (stat(config_.token_file.c_str(), &st) == 0) {
    const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime != token_mtime_ns_ || st.st_size != token_size_) {
      absl::StatusOr<std::string> t = runtime::ReadFile(config_.token_file, 64 << 10);
      if (t.ok()) {
        file_token_ = std::string(absl::StripAsciiWhitespace(*t));
        token_mtime_ns_ = mtime;
        token_size_ = st.st_size;
      } else {
        spdlog::warn("read API token file {}: {}", config_.token_file, t.status().ToString());
      }
    }
  } else if (file_token_.empty()) {
    spdlog::warn("read API token file {}: {}", config_.token_file, strerror(errno));
  }
  if (file_token_.empty()) return config_.token.empty() ? "" : "Bearer " + config_.token;
  return "Bearer " + file_token_;
}

absl::StatusOr<ApiResponse> ApiClient::Request(const std::string& method,
                                               const std::string& path_with_query,
                                               const std::optional<nlohmann::json>& body,
                                               const std::string& content_type,
                                               absl::Duration timeout, const Cancellation* cancel) {
  const std::string what = absl::StrCat(method, " ", path_with_query);
  if (timeout <= absl::ZeroDuration()) timeout = options_.request_timeout;
  web::uri uri;
  try {
    uri = web::uri(path_with_query);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": bad path: ", e.what()));
  }
  const std::string auth = AuthorizationHeader();
  auto make_request = [&] {
    web::http::http_request req(method);
    req.set_request_uri(uri);
    req.headers().add("Accept", "application/json");
    req.headers().add("User-Agent", options_.user_agent);
    if (!auth.empty()) req.headers().add("Authorization", auth);
    if (body.has_value()) req.set_body(body->dump(), content_type);
    return req;
  };

  pplx::cancellation_token_source cts;
  if (cancel != nullptr) {
    pplx::cancellation_token token = cancel->impl().source.get_token();
    cts = pplx::cancellation_token_source::create_linked_source(token);
  }
  const absl::Time deadline = absl::Now() + timeout;
  for (int attempt = 0;; ++attempt) {
    pplx::task<std::tuple<int, std::string, std::string>> task =
        http_->request(make_request(), cts.get_token()).then([](web::http::http_response r) {
          const int code = r.status_code();
          std::string retry_after;
          auto h = r.headers().find("Retry-After");
          if (h != r.headers().end()) retry_after = h->second;
          return r.extract_utf8string(true).then([code, retry_after](std::string s) {
            return std::make_tuple(code, std::move(s), retry_after);
          });
        });
    auto w = Watcher(std::move(task));
    if (!w->Wait(deadline - absl::Now())) {
      cts.cancel();
      w->Wait(kCancelGrace);
      return absl::UnavailableError(
          absl::StrCat(what, ": no answer within ", absl::FormatDuration(timeout)));
    }
    absl::MutexLock l(&w->mu);
    if (w->value.has_value()) {
      return MakeResponse(std::get<0>(*w->value), std::get<1>(*w->value), std::get<2>(*w->value));
    }
    if (cancel != nullptr && cancel->Cancelled()) {
      return absl::CancelledError(absl::StrCat(what, ": cancelled"));
    }
    // A pooled connection the server closed while idle can fail when the
    // request is written: the server never saw it, so send it again; the
    // failed connection is dropped, so this ends when the stale ones are
    // used up (cpprestsdk itself retries only when reading the status line
    // of a reused connection fails).
    if (attempt < kMaxStaleConnections && absl::StrContains(w->error, kWriteFailed)) {
      spdlog::debug("{}: {}; sending again", what, w->error);
      continue;
    }
    return absl::UnavailableError(absl::StrCat(what, ": ", w->error));
  }
}

absl::StatusOr<ApiResponse> ApiClient::Watch(const std::string& path_with_query,
                                             const LineCallback& on_line,
                                             const Cancellation& cancel,
                                             absl::Duration inactivity_timeout) {
  const std::string what = absl::StrCat("watch ", path_with_query);
  web::uri uri;
  try {
    uri = web::uri(path_with_query);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": bad path: ", e.what()));
  }
  const std::string auth = AuthorizationHeader();
  pplx::cancellation_token user_token = cancel.impl().source.get_token();
  pplx::cancellation_token_source cts =
      pplx::cancellation_token_source::create_linked_source(user_token);
  auto cancelled = [&]() -> absl::StatusOr<ApiResponse> {
    return absl::CancelledError(absl::StrCat(what, ": cancelled"));
  };

  std::shared_ptr<Waiter<web::http::http_response>> headers;
  for (int attempt = 0;; ++attempt) {
    web::http::http_request req(web::http::methods::GET);
    req.set_request_uri(uri);
    req.headers().add("Accept", "application/json");
    req.headers().add("User-Agent", options_.user_agent);
    if (!auth.empty()) req.headers().add("Authorization", auth);
    headers = Watcher(http_->request(req, cts.get_token()));
    if (!headers->Wait(options_.request_timeout)) {
      cts.cancel();
      headers->Wait(kCancelGrace);
      if (cancel.Cancelled()) return cancelled();
      return absl::UnavailableError(absl::StrCat(what, ": no answer within ",
                                                 absl::FormatDuration(options_.request_timeout)));
    }
    absl::MutexLock l(&headers->mu);
    // As in Request: a stale pooled connection fails the write; again.
    if (attempt < kMaxStaleConnections && !headers->value.has_value() && !cancel.Cancelled() &&
        absl::StrContains(headers->error, kWriteFailed)) {
      continue;
    }
    break;
  }
  web::http::http_response response;
  {
    absl::MutexLock l(&headers->mu);
    if (!headers->value.has_value()) {
      if (cancel.Cancelled()) return cancelled();
      return absl::UnavailableError(absl::StrCat(what, ": ", headers->error));
    }
    response = *headers->value;
  }
  if (response.status_code() != 200) {
    auto text = Watcher(response.extract_utf8string(true));
    if (!text->Wait(options_.request_timeout)) {
      cts.cancel();
      text->Wait(kCancelGrace);
      return absl::UnavailableError(absl::StrCat(what, ": error body not read in time"));
    }
    std::string retry_after;
    auto h = response.headers().find("Retry-After");
    if (h != response.headers().end()) retry_after = h->second;
    absl::MutexLock l(&text->mu);
    return MakeResponse(response.status_code(), text->value.value_or(""), retry_after);
  }

  concurrency::streams::streambuf<uint8_t> buf = response.body().streambuf();
  std::string pending;
  // Hands every complete line in `pending` to on_line; false to stop.
  auto deliver = [&]() -> bool { return DeliverLines(&pending, on_line); };
  try {
    for (;;) {
      if (cancel.Cancelled()) {
        cts.cancel();
        return cancelled();
      }
      const size_t avail = buf.in_avail();
      if (avail > 0) {
        const size_t old = pending.size();
        pending.resize(old + avail);
        const size_t n = buf.getn(reinterpret_cast<uint8_t*>(pending.data() + old), avail).get();
        pending.resize(old + n);
        if (!deliver()) {
          cts.cancel();
          return ApiResponse{200, nullptr};
        }
        if (pending.size() > kMaxLineBytes) {
          cts.cancel();
          return absl::UnavailableError(
              absl::StrCat(what, ": an event line exceeds ", kMaxLineBytes, " bytes"));
        }
        continue;
      }
      auto next = Watcher(buf.bumpc());
      if (!next->Wait(inactivity_timeout)) {
        cts.cancel();
        next->Wait(kCancelGrace);
        if (cancel.Cancelled()) return cancelled();
        return absl::UnavailableError(absl::StrCat(what, ": nothing received for ",
                                                   absl::FormatDuration(inactivity_timeout)));
      }
      absl::MutexLock l(&next->mu);
      if (!next->value.has_value()) {
        if (cancel.Cancelled()) return cancelled();
        return absl::UnavailableError(absl::StrCat(what, ": stream broken: ", next->error));
      }
      const auto c = *next->value;
      if (c == concurrency::streams::streambuf<uint8_t>::traits::eof()) {
        if (cancel.Cancelled()) return cancelled();
        pending.push_back('\n');
        deliver();
        return ApiResponse{200, nullptr};
      }
      pending.push_back(static_cast<char>(c));
      if (c == '\n' && !deliver()) {
        cts.cancel();
        return ApiResponse{200, nullptr};
      }
    }
  } catch (const std::exception& e) {
    cts.cancel();
    if (cancel.Cancelled()) return cancelled();
    return absl::UnavailableError(absl::StrCat(what, ": stream broken: ", e.what()));
  }
}

}  // namespace berth::kube
