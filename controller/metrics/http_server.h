// The HTTP listener of --metrics-addr: GET /metrics (the Prometheus text
// format 0.0.4), /healthz and /readyz (health.h). Served by civetweb (the
// embedded server Debian's prometheus-cpp is built on) on two threads of its
// own: a slow or stuck scraper never holds up a reconcile, and no thread of
// cpprestsdk's pool (the registry and API clients') is taken.
//
// Anything else is 404; methods other than GET and HEAD are 405. Requests
// and idle connections time out after 10 s.
#ifndef BERTH_CONTROLLER_METRICS_HTTP_SERVER_H_
#define BERTH_CONTROLLER_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/metrics/health.h"

struct mg_context;
struct mg_connection;

namespace berth::metrics {

// "host:port" checked: host an IPv4 address, an IPv6 address in brackets
// ("[::1]:9321") or empty (every address); port 0 (any free port) to 65535.
// kInvalidArgument naming what is wrong.
absl::Status ValidateListenAddress(const std::string& address);

class HttpServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;          // the exposition
    std::function<HealthChecks::Result()> health;  // /healthz
    std::function<absl::Status()> ready;           // /readyz: OK, or why not
  };

  // Listens on `address` (ValidateListenAddress) and serves. A failure to
  // bind (in use, no such address, no permission) is kUnavailable naming
  // the address and civetweb's reason.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           Handlers handlers);
  // Stops: waits for requests in progress, closes the socket.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port listened on (the chosen one when asked for port 0).
  int port() const { return port_; }
  // "host:port" with that port.
  const std::string& address() const { return address_; }

 private:
  explicit HttpServer(Handlers handlers) : handlers_(std::move(handlers)) {}
  static int Serve(mg_connection* conn, void* self);

  const Handlers handlers_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::string address_;
};

}  // namespace berth::metrics

#endif  // BERTH_CONTROLLER_METRICS_HTTP_SERVER_H_
