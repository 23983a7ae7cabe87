// The listener, on a real socket on 127.0.0.1, spoken to with raw HTTP/1.1.
#include "controller/metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// One request on a fresh connection ("Connection: close"); the whole
// response, or "" when the connection fails.
std::string Request(int port, const std::string& method, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  const std::string req =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) ADD_FAILURE();
  std::string out;
  char buf[4096];
  for (int i = 0; i < 10000; ++i) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

TEST(ListenAddressTest, Validation) {
  for (const char* ok : {"127.0.0.1:9321", "0.0.0.0:0", ":9321", "[::1]:9321", "[::]:80"}) {
    EXPECT_TRUE(ValidateListenAddress(ok).ok()) << ok;
  }
  for (const char* bad : {"9321", "localhost:9321", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:-1",
                          "::1:9321", "[::1:9321", "1.2.3:80"}) {
    absl::Status s = ValidateListenAddress(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad;
    EXPECT_THAT(s.message(), HasSubstr("--metrics-addr")) << bad;
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServer::Handlers Handlers() {
    HttpServer::Handlers h;
    h.metrics = [this] {
      ++scrapes_;
      return std::string("# TYPE x gauge\nx 1\n");
    };
    h.health = [this] {
      HealthChecks::Result r;
      r.ok = healthy_;
      r.body = healthy_ ? "ok\n" : "[-]relist failed: stuck\nrelist check failed\n";
      return r;
    };
    h.ready = [this] {
      return ready_ ? absl::OkStatus() : absl::UnavailableError("recovering containers");
    };
    return h;
  }
  std::atomic<int> scrapes_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<bool> ready_{false};
};

TEST_F(HttpServerTest, ServesMetricsHealthAndReadiness) {
  absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start("127.0.0.1:0", Handlers());
  ASSERT_TRUE(s.ok()) << s.status();
  const int port = (*s)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*s)->address(), absl::StrCat("127.0.0.1:", port));

  std::string r = Request(port, "GET", "/metrics");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\n\r\n# TYPE x gauge\nx 1\n"));
  EXPECT_EQ(scrapes_, 1);

  EXPECT_THAT(Request(port, "GET", "/healthz"), HasSubstr("200 OK\r\n"));
  healthy_ = false;
  r = Request(port, "GET", "/healthz");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 500 "));
  EXPECT_THAT(r, HasSubstr("[-]relist failed: stuck\n"));

  r = Request(port, "GET", "/readyz");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(r, HasSubstr("\r\n\r\nnot ready: recovering containers\n"));
  ready_ = true;
  r = Request(port, "GET", "/readyz");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(r, HasSubstr("\r\n\r\nok\n"));

  r = Request(port, "HEAD", "/metrics");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(r, ::testing::EndsWith("\r\n\r\n"));
  EXPECT_THAT(Request(port, "GET", "/"), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(Request(port, "GET", "/metrics/x"), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(Request(port, "POST", "/metrics"), StartsWith("HTTP/1.1 405 "));

  s->reset();
  EXPECT_EQ(Request(port, "GET", "/metrics"), "") << "still listening after the server went";
}

TEST_F(HttpServerTest, APortInUseIsAClearError) {
  absl::StatusOr<std::unique_ptr<HttpServer>> first = HttpServer::Start("127.0.0.1:0", Handlers());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Start(taken, Handlers());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("listen for metrics on " + taken));
  // An address this host does not have.
  absl::StatusOr<std::unique_ptr<HttpServer>> foreign =
      HttpServer::Start("192.0.2.1:9321", Handlers());
  EXPECT_FALSE(foreign.ok());
}

}  // namespace
}  // namespace berth::metrics
