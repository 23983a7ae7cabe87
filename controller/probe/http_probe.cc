#include "controller/probe/http_probe.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/probe/net_dial.h"

namespace berth::controller {
namespace {

constexpr int kMaxRedirects = 10;

// One TLS client context for every probe; no certificate is verified.
SSL_CTX* ClientContext() {
  static SSL_CTX* const ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return c;
  }();
  return ctx;
}

// A connection, plain or TLS, over a non-blocking socket; every call ends
// at the deadline.
class Conn {
 public:
  Conn(runtime::UniqueFd fd, absl::Time deadline) : fd_(std::move(fd)), deadline_(deadline) {}
  ~Conn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  absl::Status StartTls(const std::string& server_name) {
    ssl_ = SSL_new(ClientContext());
    if (ssl_ == nullptr) return absl::InternalError("TLS: cannot create a session");
    SSL_set_fd(ssl_, fd_.get());
    if (!server_name.empty() && !absl::StrContains(server_name, ':')) {
      SSL_set_tlsext_host_name(ssl_, server_name.c_str());
    }
    while (true) {
      int r = SSL_connect(ssl_);
      if (r == 1) return absl::OkStatus();
      if (!Wait(SSL_get_error(ssl_, r))) return Failed("TLS handshake");
    }
  }

  absl::Status WriteAll(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      if (ssl_ != nullptr) {
        int r = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
        if (r > 0) {
          done += static_cast<size_t>(r);
        } else if (!Wait(SSL_get_error(ssl_, r))) {
          return Failed("write");
        }
        continue;
      }
      ssize_t r = send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (r > 0) {
        done += static_cast<size_t>(r);
      } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!WaitFd(fd_.get(), true, deadline_)) return Timeout();
      } else {
        return absl::UnavailableError(absl::StrCat("write: ", strerror(errno)));
      }
    }
    return absl::OkStatus();
  }

  // Appends what arrives to `*out`; 0 at EOF.
  absl::StatusOr<size_t> Read(std::string* out) {
    char buf[4096];
    while (true) {
      if (ssl_ != nullptr) {
        int r = SSL_read(ssl_, buf, sizeof(buf));
        if (r > 0) {
          out->append(buf, static_cast<size_t>(r));
          return static_cast<size_t>(r);
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
          return 0;
        }
        if (!Wait(e)) return Failed("read");
        continue;
      }
      ssize_t r = recv(fd_.get(), buf, sizeof(buf), 0);
      if (r >= 0) {
        out->append(buf, static_cast<size_t>(r));
        return static_cast<size_t>(r);
      }
      if (errno != EAGAIN && errno != EINTR) {
        return absl::UnavailableError(absl::StrCat("read: ", strerror(errno)));
      }
      if (!WaitFd(fd_.get(), false, deadline_)) return Timeout();
    }
  }

 private:
  // After an SSL call that wants I/O: waits for it; false on an error or
  // at the deadline (timed_out_ tells which).
  bool Wait(int ssl_error) {
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) return false;
    if (WaitFd(fd_.get(), ssl_error == SSL_ERROR_WANT_WRITE, deadline_)) return true;
    timed_out_ = true;
    return false;
  }
  absl::Status Failed(const char* what) {
    if (timed_out_) return Timeout();
    char err[256] = "connection closed";
    if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, err, sizeof(err));
    ERR_clear_error();
    return absl::UnavailableError(absl::StrCat(what, ": ", err));
  }
  static absl::Status Timeout() {
    return absl::DeadlineExceededError(
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
  }

  runtime::UniqueFd fd_;
  absl::Time deadline_;
  SSL* ssl_ = nullptr;
  bool timed_out_ = false;
};

struct Response {
  int status = 0;
  std::string location;
  std::string body;
};

// Reads the status line, the headers and up to kMaxActionOutputBytes of
// the body (to its Content-Length, the end of a chunked body, or EOF).
absl::StatusOr<Response> ReadResponse(Conn& conn) {
  std::string data;
  size_t head_end = std::string::npos;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    absl::StatusOr<size_t> n = conn.Read(&data);
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::UnavailableError("malformed HTTP response: EOF before the headers");
    if (data.size() > 64 * 1024) return absl::UnavailableError("HTTP response headers too long");
  }
  Response r;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(data).substr(0, head_end), "\r\n");
  std::vector<absl::string_view> status = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status.size() < 2 || !absl::StartsWith(status[0], "HTTP/") ||
      !absl::SimpleAtoi(status[1], &r.status)) {
    return absl::UnavailableError(absl::StrCat("malformed HTTP status line: ", lines[0]));
  }
  int64_t length = -1;
  bool chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv.first));
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (name == "location") r.location = std::string(value);
    if (name == "content-length") absl::SimpleAtoi(value, &length);
    if (name == "transfer-encoding")
      chunked = absl::StrContains(absl::AsciiStrToLower(value), "chunked");
  }
  r.body = data.substr(head_end + 4);
  auto complete = [&] {
    if (r.body.size() >= kMaxActionOutputBytes) return true;
    if (length >= 0) return static_cast<int64_t>(r.body.size()) >= length;
    return chunked && absl::EndsWith(r.body, "0\r\n\r\n");
  };
  while (!complete()) {
    absl::StatusOr<size_t> n = conn.Read(&r.body);
    if (!n.ok() || *n == 0) break;  // the status is known: what came is enough
  }
  if (r.body.size() > kMaxActionOutputBytes) r.body.resize(kMaxActionOutputBytes);
  return r;
}

struct Url {
  bool https = false;
  std::string host;  // empty: the container's address
  int port = 0;
  std::string path;
};

// A Location header against the URL it answers: the next URL, or nullopt
// when it leaves the host (not followed).
std::optional<Url> Redirect(const Url& from, const std::string& dialled_host,
                            const std::string& location) {
  Url to = from;
  if (absl::StartsWith(location, "/")) {
    to.path = location;
    return to;
  }
  absl::string_view rest = location;
  if (absl::ConsumePrefix(&rest, "https://")) {
    to.https = true;
    to.port = 443;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    to.https = false;
    to.port = 80;
  } else {
    to.path = "/" + location;  // relative to the root: rare, kept simple
    return to;
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  to.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string host(authority);
  if (const size_t colon = authority.rfind(':');
      colon != absl::string_view::npos && authority.find(']') == absl::string_view::npos) {
    host = std::string(authority.substr(0, colon));
    if (!absl::SimpleAtoi(authority.substr(colon + 1), &to.port)) return std::nullopt;
  }
  if (host != dialled_host) return std::nullopt;
  to.host = from.host;  // dialled the same way as before
  return to;
}

}  // namespace

ActionResult RunHttpGet(runtime::Runtime& runtime, const HttpGetAction& action,
                        const ActionTarget& target, absl::Time deadline,
                        const std::string& user_agent) {
  absl::StatusOr<int> port = ResolvePort(action.port, target);
  if (!port.ok()) return {false, std::string(port.status().message())};
  Url url{action.scheme == HttpScheme::kHttps, action.host, *port,
          action.path.empty() ? "/" : action.path};
  if (!absl::StartsWith(url.path, "/")) url.path = "/" + url.path;
  for (int redirects = 0;; ++redirects) {
    std::string peer;
    const std::string scheme = url.https ? "https" : "http";
    auto error = [&](const absl::Status& s) {
      return ActionResult{
          false, absl::StrCat("Get \"", scheme, "://", peer, url.path, "\": ", s.message())};
    };
    absl::StatusOr<runtime::UniqueFd> fd =
        DialContainer(runtime, target, url.host, url.port, deadline, &peer);
    if (!fd.ok()) return error(fd.status());
    const std::string host_name = peer.substr(0, peer.rfind(':'));
    Conn conn(*std::move(fd), deadline);
    if (url.https) {
      if (absl::Status s = conn.StartTls(host_name); !s.ok()) return error(s);
    }
    std::map<std::string, std::string> fixed = {
        {"host", peer}, {"user-agent", user_agent}, {"accept", "*/*"}, {"connection", "close"}};
    std::string extra;
    for (const HttpHeader& h : action.headers) {
      const std::string lower = absl::AsciiStrToLower(h.name);
      if (fixed.count(lower) != 0) {
        fixed[lower] = h.value;
      } else {
        absl::StrAppend(&extra, h.name, ": ", h.value, "\r\n");
      }
    }
    std::string request =
        absl::StrCat("GET ", url.path, " HTTP/1.1\r\nHost: ", fixed["host"],
                     "\r\nUser-Agent: ", fixed["user-agent"], "\r\nAccept: ", fixed["accept"],
                     "\r\nConnection: ", fixed["connection"], "\r\n", extra, "\r\n");
    if (absl::Status s = conn.WriteAll(request); !s.ok()) return error(s);
    absl::StatusOr<Response> r = ReadResponse(conn);
    if (!r.ok()) return error(r.status());
    if (r->status >= 300 && r->status < 400 && !r->location.empty()) {
      std::optional<Url> next = Redirect(url, host_name, r->location);
      if (!next.has_value()) {
        return {true, absl::StrCat("Probe terminated redirects, Response body: ", r->body)};
      }
      if (redirects + 1 >= kMaxRedirects) {
        return error(absl::UnavailableError("stopped after 10 redirects"));
      }
      url = *std::move(next);
      continue;
    }
    if (r->status >= 200 && r->status < 400) return {true, std::move(r->body)};
    return {false, absl::StrCat("HTTP probe failed with statuscode: ", r->status)};
  }
}

}  // namespace berth::controller
