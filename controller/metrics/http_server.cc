#include "controller/metrics/http_server.h"

#include <arpa/inet.h>

#include <cstring>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "civetweb.h"
#include "spdlog/spdlog.h"

namespace berth::metrics {
namespace {

struct HostPort {
  std::string host;  // without brackets
  bool ipv6 = false;
  int port = 0;
};

absl::StatusOr<HostPort> Parse(const std::string& address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-addr \"", address, "\": ", why, " (want host:port, e.g. ",
                     "127.0.0.1:9321, [::1]:9321 or :9321 for every address)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  HostPort hp;
  hp.host = address.substr(0, colon);
  if (!absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return bad("the port is not a number from 0 to 65535");
  }
  unsigned char buf[sizeof(in6_addr)];
  if (absl::StartsWith(hp.host, "[") && absl::EndsWith(hp.host, "]")) {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
    hp.ipv6 = true;
    if (inet_pton(AF_INET6, hp.host.c_str(), buf) != 1) return bad("not an IPv6 address");
  } else if (!hp.host.empty() && inet_pton(AF_INET, hp.host.c_str(), buf) != 1) {
    return bad("the host is not an IP address");
  }
  return hp;
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::debug("metrics listener: {}", message);
  return 1;  // handled: nothing on stderr
}

void Respond(mg_connection* conn, int code, const char* type, const std::string& body) {
  mg_response_header_start(conn, code);
  mg_response_header_add(conn, "Content-Type", type, -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  const std::string length = std::to_string(body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_send(conn);
  if (std::strcmp(mg_get_request_info(conn)->request_method, "HEAD") != 0) {
    mg_write(conn, body.data(), body.size());
  }
}

}  // namespace

absl::Status ValidateListenAddress(const std::string& address) { return Parse(address).status(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              Handlers handlers) {
  absl::StatusOr<HostPort> hp = Parse(address);
  if (!hp.ok()) return hp.status();
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });

  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handlers)));
  // civetweb: "127.0.0.1:9321", "[::1]:9321", or "9321" for every address.
  const std::string ports = hp->host.empty()
                                ? std::to_string(hp->port)
                                : (hp->ipv6 ? absl::StrCat("[", hp->host, "]:", hp->port)
                                            : absl::StrCat(hp->host, ":", hp->port));
  const char* options[] = {"listening_ports",
                           ports.c_str(),
                           "num_threads",
                           "2",
                           "request_timeout_ms",
                           "10000",
                           "keep_alive_timeout_ms",
                           "10000",
                           "enable_keep_alive",
                           "yes",
                           nullptr};
  mg_callbacks callbacks = {};
  callbacks.log_message = &LogMessage;
  mg_init_data init_data = {};
  init_data.callbacks = &callbacks;
  init_data.user_data = server.get();
  init_data.configuration_options = options;
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error = {};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof error_text;
  server->ctx_ = mg_start2(&init_data, &error);
  if (server->ctx_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("listen for metrics on ", address, ": ",
                     error_text[0] != '\0' ? error_text : "civetweb could not start"));
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::Serve, server.get());
  mg_server_port port = {};
  if (mg_get_server_ports(server->ctx_, 1, &port) != 1) {
    return absl::InternalError(absl::StrCat("listen for metrics on ", address, ": no port"));
  }
  server->port_ = port.port;
  server->address_ = hp->ipv6 ? absl::StrCat("[", hp->host, "]:", port.port)
                              : absl::StrCat(hp->host, ":", port.port);
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

int HttpServer::Serve(mg_connection* conn, void* self_ptr) {
  const HttpServer* self = static_cast<const HttpServer*>(self_ptr);
  const mg_request_info* req = mg_get_request_info(conn);
  const std::string path = req->local_uri != nullptr ? req->local_uri : "";
  const std::string method = req->request_method != nullptr ? req->request_method : "";
  constexpr char kText[] = "text/plain; charset=utf-8";
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    Respond(conn, 404, kText, "404 page not found\n");
    return 404;
  }
  if (method != "GET" && method != "HEAD") {
    Respond(conn, 405, kText, "method not allowed\n");
    return 405;
  }
  if (path == "/metrics") {
    Respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8", self->handlers_.metrics());
    return 200;
  }
  if (path == "/healthz") {
    const HealthChecks::Result r = self->handlers_.health();
    Respond(conn, r.ok ? 200 : 500, kText, r.body);
    return r.ok ? 200 : 500;
  }
  const absl::Status ready = self->handlers_.ready();
  if (ready.ok()) {
    Respond(conn, 200, kText, "ok\n");
    return 200;
  }
  Respond(conn, 503, kText, absl::StrCat("not ready: ", ready.message(), "\n"));
  return 503;
}

}  // namespace berth::metrics
