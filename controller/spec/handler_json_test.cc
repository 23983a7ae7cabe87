#include "controller/spec/handler_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::controller {
namespace {

using ::testing::ElementsAre;

TEST(HandlerJsonTest, EveryHandlerRoundTrips) {
  Handler exec;
  exec.exec.emplace().command = {"sh", "-c", "echo \"bye\""};
  Handler get;
  HttpGetAction& g = get.http_get.emplace();
  g.path = "/quit";
  g.port.name = "http";
  g.host = "127.0.0.1";
  g.scheme = HttpScheme::kHttps;
  g.headers = {{"X-A", "1"}, {"X-B", ""}};
  Handler tcp;
  tcp.tcp_socket.emplace().port.number = 80;
  Handler grpc;
  grpc.grpc.emplace().port = 9090;
  grpc.grpc->service = "health";
  Handler sleep;
  sleep.sleep.emplace().seconds = 5;
  for (const Handler& h : {exec, get, tcp, grpc, sleep}) {
    const std::string json = HandlerToJson(h);
    SCOPED_TRACE(json);
    std::optional<Handler> back = HandlerFromJson(json);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(HandlerToJson(*back), json);
  }
  EXPECT_EQ(HandlerToJson(sleep), R"({"sleep":{"seconds":5}})");
  EXPECT_EQ(HandlerToJson(get),
            R"({"httpGet":{"host":"127.0.0.1","httpHeaders":[{"name":"X-A","value":"1"},)"
            R"({"name":"X-B","value":""}],"path":"/quit","port":"http","scheme":"HTTPS"}})");
  std::optional<Handler> back = HandlerFromJson(HandlerToJson(get));
  EXPECT_EQ(back->http_get->port.name, "http");
  EXPECT_EQ(back->http_get->port.number, 0);
  EXPECT_EQ(back->http_get->scheme, HttpScheme::kHttps);
  EXPECT_EQ(HandlerFromJson(HandlerToJson(tcp))->tcp_socket->port.number, 80);
}

TEST(HandlerJsonTest, AnythingElseIsNoHandler) {
  for (const char* bad :
       {"", "{", "[]", "{}", R"({"exec":{"command":"sh"}})", R"({"sleep":{"seconds":"5"}})",
        R"({"exec":{"command":["a"]},"sleep":{"seconds":1}})", R"({"other":{}})",
        R"({"httpGet":{"path":"/"}})"}) {
    EXPECT_FALSE(HandlerFromJson(bad).has_value()) << bad;
  }
}

TEST(HandlerJsonTest, WithPortNumbersResolvesNamesItFinds) {
  ContainerPort http;
  http.name = "http";
  http.container_port = 8080;
  Handler h;
  h.http_get.emplace().port.name = "http";
  Handler resolved = WithPortNumbers(h, {http});
  EXPECT_EQ(resolved.http_get->port.number, 8080);
  EXPECT_EQ(resolved.http_get->port.name, "");
  Handler t;
  t.tcp_socket.emplace().port.name = "admin";
  Handler kept = WithPortNumbers(t, {http});
  EXPECT_EQ(kept.tcp_socket->port.name, "admin");
  Handler e;
  e.exec.emplace().command = {"true"};
  EXPECT_THAT(WithPortNumbers(e, {http}).exec->command, ElementsAre("true"));
}

}  // namespace
}  // namespace berth::controller
