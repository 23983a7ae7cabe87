#include "controller/spec/handler_json.h"

#include <utility>

#include "nlohmann/json.hpp"

namespace berth::controller {
namespace {

using Json = nlohmann::json;

Json PortJson(const PortRef& port) {
  if (!port.name.empty()) return port.name;
  return port.number;
}

// Reads a PortRef; throws nlohmann's type_error on the wrong type.
PortRef PortOf(const Json& j) {
  PortRef p;
  if (j.is_string()) {
    p.name = j.get<std::string>();
  } else {
    p.number = j.get<int32_t>();
  }
  return p;
}

std::string StringOr(const Json& j, const char* key, std::string fallback) {
  return j.contains(key) ? j.at(key).get<std::string>() : std::move(fallback);
}

void Resolve(PortRef* port, const std::vector<ContainerPort>& ports) {
  if (port->name.empty()) return;
  for (const ContainerPort& p : ports) {
    if (p.name == port->name) {
      port->number = p.container_port;
      port->name.clear();
      return;
    }
  }
}

}  // namespace

std::string HandlerToJson(const Handler& h) {
  Json j = Json::object();
  if (h.exec.has_value()) j["exec"] = {{"command", h.exec->command}};
  if (h.http_get.has_value()) {
    Json headers = Json::array();
    for (const HttpHeader& header : h.http_get->headers) {
      headers.push_back({{"name", header.name}, {"value", header.value}});
    }
    j["httpGet"] = {{"path", h.http_get->path},
                    {"port", PortJson(h.http_get->port)},
                    {"host", h.http_get->host},
                    {"scheme", h.http_get->scheme == HttpScheme::kHttps ? "HTTPS" : "HTTP"},
                    {"httpHeaders", std::move(headers)}};
  }
  if (h.tcp_socket.has_value()) {
    j["tcpSocket"] = {{"port", PortJson(h.tcp_socket->port)}, {"host", h.tcp_socket->host}};
  }
  if (h.grpc.has_value()) j["grpc"] = {{"port", h.grpc->port}, {"service", h.grpc->service}};
  if (h.sleep.has_value()) j["sleep"] = {{"seconds", h.sleep->seconds}};
  return j.dump();
}

std::optional<Handler> HandlerFromJson(absl::string_view text) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.size() != 1) return std::nullopt;
  Handler h;
  try {
    if (j.contains("exec")) {
      h.exec.emplace().command = j.at("exec").at("command").get<std::vector<std::string>>();
    } else if (j.contains("httpGet")) {
      const Json& g = j.at("httpGet");
      HttpGetAction& get = h.http_get.emplace();
      get.path = StringOr(g, "path", "/");
      get.port = PortOf(g.at("port"));
      get.host = StringOr(g, "host", "");
      get.scheme =
          StringOr(g, "scheme", "HTTP") == "HTTPS" ? HttpScheme::kHttps : HttpScheme::kHttp;
      if (g.contains("httpHeaders")) {
        for (const Json& header : g.at("httpHeaders")) {
          get.headers.push_back(
              {header.at("name").get<std::string>(), header.at("value").get<std::string>()});
        }
      }
    } else if (j.contains("tcpSocket")) {
      const Json& t = j.at("tcpSocket");
      h.tcp_socket.emplace().port = PortOf(t.at("port"));
      h.tcp_socket->host = StringOr(t, "host", "");
    } else if (j.contains("grpc")) {
      const Json& g = j.at("grpc");
      h.grpc.emplace().port = g.at("port").get<int32_t>();
      h.grpc->service = StringOr(g, "service", "");
    } else if (j.contains("sleep")) {
      h.sleep.emplace().seconds = j.at("sleep").at("seconds").get<int64_t>();
    } else {
      return std::nullopt;
    }
  } catch (const Json::exception&) {
    return std::nullopt;
  }
  return h;
}

Handler WithPortNumbers(Handler handler, const std::vector<ContainerPort>& ports) {
  if (handler.http_get.has_value()) Resolve(&handler.http_get->port, ports);
  if (handler.tcp_socket.has_value()) Resolve(&handler.tcp_socket->port, ports);
  return handler;
}

}  // namespace berth::controller
