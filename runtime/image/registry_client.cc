#include "runtime/image/registry_client.h"

#include <unistd.h>

// cpprestsdk's U() macro breaks fmt (spdlog) templates.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <cpprest/uri_builder.h>
#include <pplx/pplxcancellation_token.h>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "runtime/image/digest.h"
#include "spdlog/spdlog.h"

namespace berth::image {

struct PullCancellation::Impl {
  std::atomic<bool> cancelled{false};
  pplx::cancellation_token_source source;
};

PullCancellation::PullCancellation() : impl_(std::make_unique<Impl>()) {}
PullCancellation::~PullCancellation() = default;

void PullCancellation::Cancel() {
  impl_->cancelled.store(true);
  impl_->source.cancel();  // closes the connections of requests in flight
}

bool PullCancellation::cancelled() const { return impl_->cancelled.load(); }

struct PullCancellationAccess {
  static pplx::cancellation_token Token(const std::shared_ptr<PullCancellation>& c) {
    return c != nullptr ? c->impl_->source.get_token() : pplx::cancellation_token::none();
  }
};

namespace {

bool IsCancelled(const RegistryClientOptions& o) {
  return o.cancellation != nullptr && o.cancellation->cancelled();
}

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

constexpr int64_t kMaxManifestBytes = 4 << 20;
constexpr size_t kReadChunk = 1 << 20;

bool IsRedirect(int code) {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

std::string Header(const http::http_response& r, const char* name) {
  auto it = r.headers().find(name);
  return it == r.headers().end() ? std::string() : it->second;
}

// Reads at most `limit` bytes of the body; kInvalidArgument when longer.
absl::StatusOr<std::string> ReadBody(const http::http_response& r, int64_t limit,
                                     const std::string& what) {
  std::string out;
  try {
    auto sb = r.body().streambuf();
    std::string buf(64 << 10, '\0');
    while (true) {
      size_t n = sb.getn(reinterpret_cast<uint8_t*>(buf.data()), buf.size()).get();
      if (n == 0) break;
      out.append(buf.data(), n);
      if (static_cast<int64_t>(out.size()) > limit) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": larger than ", limit, " bytes"));
      }
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(what, ": reading the response: ", e.what()));
  }
  return out;
}

// The status for a non-success response, with the registry's error text.
absl::Status ErrorFor(const http::http_response& r, const std::string& what) {
  const int code = r.status_code();
  std::string detail;
  absl::StatusOr<std::string> body = ReadBody(r, 64 << 10, what);
  if (body.ok()) {
    nlohmann::json j = nlohmann::json::parse(*body, nullptr, false);
    if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
      std::vector<std::string> parts;
      for (const auto& e : j["errors"]) {
        if (!e.is_object()) continue;
        for (const char* key : {"message", "code"}) {
          if (e.contains(key) && e[key].is_string()) {
            parts.push_back(e[key].get<std::string>());
            break;
          }
        }
      }
      detail = absl::StrJoin(parts, "; ");
    }
  }
  std::string msg = absl::StrCat(what, ": HTTP ", code, " ", r.reason_phrase());
  if (!detail.empty()) absl::StrAppend(&msg, ": ", detail);
  if (code == 401 || code == 403) return absl::PermissionDeniedError(msg);
  if (code == 404) return absl::NotFoundError(msg);
  if (code == 408 || code == 429 || code >= 500) return absl::UnavailableError(msg);
  if (code >= 400) return absl::InvalidArgumentError(msg);
  return absl::UnknownError(msg);
}

std::string Authority(const web::uri& u) {
  return u.port() > 0 ? absl::StrCat(u.host(), ":", u.port()) : u.host();
}

}  // namespace

// HTTP clients per scheme://authority, configured for the registry.
class RegistryClient::Http {
 public:
  explicit Http(const RegistryClientOptions& options) : options_(options) {}

  // One GET (no redirects followed). Transport failures are kUnavailable.
  absl::StatusOr<http::http_response> Send(const std::string& url,
                                           const std::map<std::string, std::string>& headers) {
    web::uri u;
    try {
      u = web::uri(url);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("GET ", url, ": bad URL: ", e.what()));
    }
    if (u.scheme() != "http" && u.scheme() != "https") {
      return absl::InvalidArgumentError(absl::StrCat("GET ", url, ": unsupported scheme"));
    }
    absl::StatusOr<std::shared_ptr<http_client>> client = ClientFor(u);
    if (!client.ok()) return client.status();
    http::http_request req(http::methods::GET);
    req.set_request_uri(u.resource());
    req.headers().add("User-Agent", options_.user_agent);
    for (const auto& [k, v] : headers) req.headers().add(k, v);
    if (IsCancelled(options_))
      return absl::CancelledError(absl::StrCat("GET ", url, ": cancelled"));
    try {
      return (*client)->request(req, PullCancellationAccess::Token(options_.cancellation)).get();
    } catch (const std::exception& e) {
      if (IsCancelled(options_))
        return absl::CancelledError(absl::StrCat("GET ", url, ": cancelled"));
      return absl::UnavailableError(absl::StrCat("GET ", url, ": ", e.what()));
    }
  }

 private:
  absl::StatusOr<std::shared_ptr<http_client>> ClientFor(const web::uri& u) {
    const std::string authority = Authority(u);
    const std::string base = absl::StrCat(u.scheme(), "://", authority);
    absl::MutexLock lock(&mu_);
    auto it = clients_.find(base);
    if (it != clients_.end()) return it->second;
    http_client_config config;
    config.set_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(options_.timeout)));
    config.set_max_redirects(0);
    config.set_validate_certificates(true);
    auto ca = options_.ca_files.find(authority);
    if (u.scheme() == "https" && ca != options_.ca_files.end()) {
      const std::string file = ca->second;
      if (access(file.c_str(), R_OK) != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("registry ", authority, ": CA file ", file, " is not readable"));
      }
      config.set_ssl_context_callback([file](boost::asio::ssl::context& ctx) {
        ctx.set_default_verify_paths();
        ctx.load_verify_file(file);
      });
    }
    auto client = std::make_shared<http_client>(web::uri(base), config);
    clients_[base] = client;
    return client;
  }

  const RegistryClientOptions& options_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<http_client>> clients_ ABSL_GUARDED_BY(mu_);
};

struct RegistryClient::Response {
  http::http_response http;
  std::string url;  // after redirects
};

RegistryClient::RegistryClient(RegistryClientOptions options)
    : options_(std::move(options)), http_(std::make_unique<Http>(options_)) {}

RegistryClient::~RegistryClient() = default;

std::string RegistryClient::BaseUrl(const std::string& domain) const {
  const std::string host = domain == "docker.io" ? "registry-1.docker.io" : domain;
  return absl::StrCat(options_.insecure_registries.count(domain) ? "http" : "https", "://", host);
}

absl::Status RegistryClient::Ping(const std::string& domain) {
  const std::string url = BaseUrl(domain) + "/v2/";
  absl::StatusOr<http::http_response> r = http_->Send(url, {});
  if (!r.ok())
    return absl::Status(r.status().code(),
                        absl::StrCat("ping registry ", domain, ": ", r.status().message()));
  if (r->status_code() == 200 || r->status_code() == 401) return absl::OkStatus();
  return ErrorFor(*r, absl::StrCat("ping registry ", domain));
}

std::string RegistryClient::CachedAuthorization(const std::string& domain,
                                                const std::string& scope) {
  absl::MutexLock lock(&mu_);
  auto t = tokens_.find(domain + " " + scope);
  if (t != tokens_.end() && absl::Now() < t->second.expires) return t->second.header;
  auto b = basic_.find(domain);
  return b != basic_.end() ? b->second : std::string();
}

absl::StatusOr<std::string> RegistryClient::Authorize(const std::string& domain,
                                                      const std::string& scope,
                                                      const std::string& www_authenticate,
                                                      const std::string& action) {
  absl::StatusOr<std::vector<AuthChallenge>> challenges = ParseAuthChallenges(www_authenticate);
  if (!challenges.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        action, ": registry ", domain, " wants authentication: ", challenges.status().message()));
  }
  const AuthChallenge* bearer = nullptr;
  const AuthChallenge* basic = nullptr;
  for (const AuthChallenge& c : *challenges) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }
  absl::StatusOr<std::optional<Credentials>> found = options_.auth.Find(domain);
  if (!found.ok()) {
    return absl::Status(found.status().code(),
                        absl::StrCat(action, ": credentials: ", found.status().message()));
  }
  const std::optional<Credentials>& creds = *found;
  const std::string basic_header =
      creds ? "Basic " + absl::Base64Escape(creds->username + ":" + creds->password) : "";
  if (bearer != nullptr) {
    auto realm = bearer->params.find("realm");
    if (realm == bearer->params.end() || realm->second.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat(action, ": registry ", domain, ": bearer challenge without a realm"));
    }
    std::string token_url;
    try {
      web::uri_builder b{web::uri(realm->second)};
      if (auto s = bearer->params.find("service"); s != bearer->params.end()) {
        b.append_query("service", s->second);
      }
      auto s = bearer->params.find("scope");
      b.append_query("scope", s != bearer->params.end() ? s->second : scope);
      token_url = b.to_string();
    } catch (const std::exception& e) {
      return absl::PermissionDeniedError(absl::StrCat(
          action, ": registry ", domain, ": bad token realm \"", realm->second, "\": ", e.what()));
    }
    std::map<std::string, std::string> headers;
    if (creds) headers["Authorization"] = basic_header;
    absl::StatusOr<http::http_response> r = http_->Send(token_url, headers);
    const std::string what = absl::StrCat(action, ": get token from ", realm->second);
    if (!r.ok())
      return absl::Status(r.status().code(), absl::StrCat(what, ": ", r.status().message()));
    if (r->status_code() != 200) return ErrorFor(*r, what);
    absl::StatusOr<std::string> body = ReadBody(*r, 1 << 20, what);
    if (!body.ok()) return UnlessCancelled(body.status(), what);
    nlohmann::json j = nlohmann::json::parse(*body, nullptr, false);
    std::string token;
    for (const char* key : {"token", "access_token"}) {
      if (token.empty() && j.is_object() && j.contains(key) && j[key].is_string()) {
        token = j[key].get<std::string>();
      }
    }
    if (token.empty()) {
      return absl::PermissionDeniedError(absl::StrCat(what, ": the response has no token"));
    }
    int64_t expires_in = 60;
    if (j.contains("expires_in") && j["expires_in"].is_number_integer()) {
      expires_in = std::max<int64_t>(j["expires_in"].get<int64_t>(), 1);
    }
    const std::string header = "Bearer " + token;
    absl::MutexLock lock(&mu_);
    // Renew a little early so a token does not expire in flight.
    tokens_[domain + " " + scope] = {header,
                                     absl::Now() + absl::Seconds(expires_in) -
                                         absl::Seconds(std::min<int64_t>(expires_in / 10, 10))};
    return header;
  }
  if (basic != nullptr) {
    if (!creds) {
      return absl::PermissionDeniedError(absl::StrCat(
          action, ": registry ", domain, " wants basic auth and there are no credentials for ",
          AuthKeyForDomain(domain)));
    }
    absl::MutexLock lock(&mu_);
    basic_[domain] = basic_header;
    return basic_header;
  }
  return absl::PermissionDeniedError(absl::StrCat(
      action, ": registry ", domain, " wants an unsupported authentication: ", www_authenticate));
}

absl::StatusOr<RegistryClient::Response> RegistryClient::Get(
    const Reference& ref, const std::string& url, std::map<std::string, std::string> headers,
    const std::string& action) {
  const std::string scope = absl::StrCat("repository:", ref.path, ":pull");
  std::string auth = CachedAuthorization(ref.domain, scope);
  const std::string registry_authority = Authority(web::uri(BaseUrl(ref.domain)));
  for (int attempt = 0;; ++attempt) {
    std::string current = url;
    std::map<std::string, std::string> h = headers;
    if (!auth.empty()) h["Authorization"] = auth;
    absl::StatusOr<http::http_response> r;
    for (int redirects = 0;; ++redirects) {
      r = http_->Send(current, h);
      if (!r.ok()) {
        return absl::Status(r.status().code(), absl::StrCat(action, ": ", r.status().message()));
      }
      if (!IsRedirect(r->status_code())) break;
      if (redirects >= options_.max_redirects) {
        return absl::UnavailableError(absl::StrCat(action, ": GET ", url, ": more than ",
                                                   options_.max_redirects, " redirects"));
      }
      std::string location = Header(*r, "Location");
      if (location.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(action, ": GET ", current, ": redirect without a Location"));
      }
      web::uri from(current);
      if (absl::StartsWith(location, "/")) {
        location = absl::StrCat(from.scheme(), "://", Authority(from), location);
      }
      web::uri to;
      try {
        to = web::uri(location);
      } catch (const std::exception& e) {
        return absl::InvalidArgumentError(
            absl::StrCat(action, ": GET ", current, ": bad redirect \"", location, "\""));
      }
      if (from.scheme() == "https" && to.scheme() == "http") {
        return absl::PermissionDeniedError(absl::StrCat(
            action, ": GET ", current, ": refusing a redirect from HTTPS to ", location));
      }
      // Credentials stay with the registry; storage URLs carry their own.
      if (Authority(to) != registry_authority) h.erase("Authorization");
      spdlog::debug("{}: redirected to {}", action, location);
      current = location;
    }
    if (r->status_code() == 401 && attempt == 0) {
      absl::StatusOr<std::string> a =
          Authorize(ref.domain, scope, Header(*r, "WWW-Authenticate"), action);
      if (!a.ok()) return a.status();
      auth = *a;
      continue;
    }
    return Response{*r, current};
  }
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const Reference& ref,
                                                            const std::string& tag_or_digest) {
  const std::string what = absl::StrCat("get manifest ", ref.Name(),
                                        IsValidDigest(tag_or_digest) ? "@" : ":", tag_or_digest);
  const std::string url =
      absl::StrCat(BaseUrl(ref.domain), "/v2/", ref.path, "/manifests/", tag_or_digest);
  const std::string accept =
      absl::StrJoin({kOciIndex, kOciManifest, kDockerManifestList, kDockerManifest}, ", ");
  absl::StatusOr<Response> r = Get(ref, url, {{"Accept", accept}}, what);
  if (!r.ok()) return r.status();
  const int code = r->http.status_code();
  if (code == 404) {
    absl::Status e = ErrorFor(r->http, what);
    return absl::NotFoundError(absl::StrCat(what, ": manifest unknown (", e.message(), ")"));
  }
  if (code != 200) return ErrorFor(r->http, what);
  absl::StatusOr<std::string> body = ReadBody(r->http, kMaxManifestBytes, what);
  if (!body.ok()) return UnlessCancelled(body.status(), what);
  FetchedManifest m;
  m.body = std::move(*body);
  m.digest = DigestOf(m.body);
  std::string type = Header(r->http, "Content-Type");
  type = std::string(absl::StripAsciiWhitespace(type.substr(0, type.find(';'))));
  nlohmann::json j = nlohmann::json::parse(m.body, nullptr, false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the manifest is not a JSON object"));
  }
  const int schema_version = j.contains("schemaVersion") && j["schemaVersion"].is_number_integer()
                                 ? j["schemaVersion"].get<int>()
                                 : 0;
  if (type.empty() || type == "application/json" || type == "text/plain" ||
      type == "application/octet-stream") {
    type = j.contains("mediaType") && j["mediaType"].is_string() ? j["mediaType"].get<std::string>()
                                                                 : "";
    if (type.empty()) {
      if (schema_version == 1)
        type = kDockerSchema1;
      else if (j.contains("manifests"))
        type = kOciIndex;
      else if (j.contains("config"))
        type = kOciManifest;
    }
  }
  if (type == kDockerSchema1 || type == kDockerSchema1Signed || schema_version == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what,
                     ": Docker schema 1 manifests are not supported (push the image again with a "
                     "current client)"));
  }
  if (type != kOciIndex && type != kOciManifest && type != kDockerManifestList &&
      type != kDockerManifest) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": unsupported manifest media type \"", type, "\""));
  }
  m.media_type = type;
  if (IsValidDigest(tag_or_digest) && m.digest != tag_or_digest) {
    return absl::DataLossError(absl::StrCat(what, ": manifest digest mismatch: got ", m.digest));
  }
  std::string header_digest = Header(r->http, "Docker-Content-Digest");
  if (absl::StartsWith(header_digest, "sha256:") && header_digest != m.digest) {
    return absl::DataLossError(absl::StrCat(what, ": manifest digest mismatch: registry says ",
                                            header_digest, ", got ", m.digest));
  }
  return m;
}

absl::Status RegistryClient::FetchBlob(const Reference& ref, const Descriptor& desc,
                                       ContentStore* store, const std::string& action,
                                       const ProgressFn& progress) {
  const std::string url =
      absl::StrCat(BaseUrl(ref.domain), "/v2/", ref.path, "/blobs/", desc.digest);
  const std::string what = absl::StrCat(action, ": blob ", desc.digest);
  return store->Ingest(
      action, desc.digest, desc.size, [&](int64_t offset, BlobWriter* w) -> absl::Status {
        std::map<std::string, std::string> headers;
        if (offset > 0) headers["Range"] = absl::StrCat("bytes=", offset, "-");
        absl::StatusOr<Response> r = Get(ref, url, headers, what);
        if (!r.ok()) return r.status();
        const int code = r->http.status_code();
        if (code == 206 && offset > 0) {
          const std::string range = Header(r->http, "Content-Range");
          if (!absl::StartsWith(range, absl::StrCat("bytes ", offset, "-"))) {
            return absl::DataLossError(absl::StrCat(what, ": asked for bytes from ", offset,
                                                    ", got range \"", range, "\""));
          }
        } else if (code == 200) {
          if (w->written() > 0) {
            if (absl::Status s = w->Restart(); !s.ok()) return s;
          }
        } else {
          return ErrorFor(r->http, what);
        }
        try {
          auto sb = r->http.body().streambuf();
          std::unique_ptr<uint8_t[]> buf(new uint8_t[kReadChunk]);
          while (true) {
            // What is buffered, or else the next byte: a read of a fixed size
            // would wait for all of it, and progress (and what a stall or a
            // cancellation leaves to resume from) would lag the network.
            const size_t want = std::min(std::max<size_t>(sb.in_avail(), 1), kReadChunk);
            size_t n = sb.getn(buf.get(), want).get();
            // A cancelled download ends early; what arrived stays as a partial.
            if (IsCancelled(options_))
              return absl::CancelledError(absl::StrCat(what, ": cancelled"));
            if (n == 0) break;
            if (absl::Status s = w->Write(buf.get(), n); !s.ok()) return s;
            if (progress) progress(w->written());
          }
        } catch (const std::exception& e) {
          return UnlessCancelled(
              absl::UnavailableError(absl::StrCat(what, ": reading from ", r->url, ": ", e.what())),
              what);
        }
        return absl::OkStatus();
      });
}

absl::Status RegistryClient::UnlessCancelled(absl::Status s, const std::string& what) const {
  if (s.ok() || !IsCancelled(options_)) return s;
  return absl::CancelledError(absl::StrCat(what, ": cancelled"));
}

}  // namespace berth::image
