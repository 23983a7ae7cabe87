// The registry client against a fake registry (cpprestsdk http_listener on
// 127.0.0.1) for the answers a real one rarely gives, and platform choice.
#define _TURN_OFF_PLATFORM_STRING
#include "runtime/image/registry_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cpprest/http_listener.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/image/digest.h"
#include "runtime/image/puller.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using ::testing::HasSubstr;

int ListeningSocket(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

class FakeRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Free port: bind 0, release, listen there (retried on a lost race).
    for (int attempt = 0; attempt < 3 && listener_ == nullptr; ++attempt) {
      int port = 0;
      int fd = ListeningSocket(&port);
      ASSERT_GE(fd, 0);
      close(fd);
      try {
        auto l = std::make_unique<http_listener>(absl::StrCat("http://127.0.0.1:", port));
        l->support(http::methods::GET, [this](http::http_request r) { Serve(r); });
        l->open().wait();
        listener_ = std::move(l);
        host_ = absl::StrCat("127.0.0.1:", port);
      } catch (const std::exception&) {
      }
    }
    ASSERT_NE(listener_, nullptr);
    RegistryClientOptions o;
    o.insecure_registries.insert(host_);
    o.timeout = absl::Seconds(5);
    client_ = std::make_unique<RegistryClient>(o);
    ref_ = *ParseReference(host_ + "/x:1");
  }
  void TearDown() override { listener_->close().wait(); }

  void Serve(http::http_request req) {
    const std::string path = req.relative_uri().path();
    const std::string prefix = "/v2/x/manifests/";
    const std::string what = path.substr(std::min(path.size(), prefix.size()));
    http::http_response r(200);
    if (what == "schema1") {
      r.headers().add("Content-Type", kDockerSchema1Signed);
      r.set_body(std::string(R"({"schemaVersion":1,"name":"x","tag":"schema1"})"));
    } else if (what == DigestOf("A")) {
      r.headers().add("Content-Type", kOciManifest);
      r.set_body(std::string(R"({"schemaVersion":2,"config":{},"layers":[]})"));
    } else if (what == "bigger") {
      r.headers().add("Content-Type", kOciManifest);
      r.set_body(std::string(5 << 20, ' '));
    } else if (what == "lying") {
      r.headers().add("Content-Type", kOciManifest);
      r.headers().add("Docker-Content-Digest", DigestOf("other"));
      r.set_body(std::string(R"({"schemaVersion":2})"));
    } else if (what == "weird") {
      r.headers().add("Content-Type", "application/vnd.example+json");
      r.set_body(std::string(R"({"schemaVersion":2})"));
    } else if (what == "untyped") {
      r.headers().add("Content-Type", "application/json");
      r.set_body(std::string(R"({"schemaVersion":2,"manifests":[]})"));
    } else if (what == "badtypes") {
      r.headers().add("Content-Type", kOciManifest);
      r.set_body(
          std::string(R"({"schemaVersion":2,"config":{"digest":5,"size":"x"},"layers":[]})"));
    } else if (what == "helm") {
      r.headers().add("Content-Type", kOciManifest);
      r.set_body(absl::StrCat(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")",
                              DigestOf("c"), R"(","size":1},"layers":[{"mediaType":)",
                              R"("application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":")",
                              DigestOf("l"), R"(","size":1}]})"));
    } else if (what == "oddindex") {
      r.headers().add("Content-Type", kOciIndex);
      r.set_body(std::string(R"({"schemaVersion":2,"manifests":[{"platform":{"os":1}}]})"));
    } else if (what == "forbidden") {
      r.set_status_code(403);
      r.set_body(std::string(
          R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})"));
    } else if (what == "broken") {
      r.set_status_code(503);
    } else if (what == "nochallenge") {
      r.set_status_code(401);
    } else {
      r.set_status_code(404);
      r.headers().add("Content-Type", "application/json");
      r.set_body(
          std::string(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"));
    }
    req.reply(r).wait();
  }

  absl::Status Get(const std::string& what) { return client_->GetManifest(ref_, what).status(); }

  std::unique_ptr<http_listener> listener_;
  std::string host_;
  std::unique_ptr<RegistryClient> client_;
  Reference ref_;
};

TEST_F(FakeRegistryTest, MapsAnswersToCodes) {
  absl::Status s1 = Get("schema1");
  EXPECT_EQ(s1.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s1.message(), HasSubstr("schema 1 manifests are not supported"));

  absl::Status wrong = Get(DigestOf("A"));
  EXPECT_EQ(wrong.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(wrong.message(), HasSubstr("manifest digest mismatch: got sha256:"));

  EXPECT_EQ(Get("bigger").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get("lying").code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Get("weird").message(), HasSubstr("unsupported manifest media type"));
  auto untyped = client_->GetManifest(ref_, "untyped");
  ASSERT_TRUE(untyped.ok()) << untyped.status();
  EXPECT_EQ(untyped->media_type, kOciIndex);
  EXPECT_EQ(untyped->digest, DigestOf(untyped->body));

  absl::Status forbidden = Get("forbidden");
  EXPECT_EQ(forbidden.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(forbidden.message(), HasSubstr("requested access to the resource is denied"));
  EXPECT_EQ(Get("broken").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Get("nochallenge").code(), absl::StatusCode::kPermissionDenied);
  absl::Status missing = Get("missing");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("manifest unknown"));
  EXPECT_THAT(missing.message(), HasSubstr(absl::StrCat("get manifest ", host_, "/x:missing")));
}

TEST_F(FakeRegistryTest, MalformedManifestsAreInvalidArgument) {
  testing::TempDir dir{"berth-fake-registry"};
  auto store = ContentStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Puller puller(store->get(), client_.get());
  for (const char* tag : {"badtypes", "helm", "oddindex"}) {
    auto r = puller.Pull(absl::StrCat(host_, "/x:", tag));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << tag << ": " << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("pull image ", host_, "/x:", tag)));
  }
  EXPECT_THAT(puller.Pull(host_ + "/x:helm").status().message(),
              HasSubstr("unsupported media type"));
}

TEST(RegistryClientTest, SilentServerTimesOutAsUnavailable) {
  int port = 0;
  int fd = ListeningSocket(&port);  // accepts connections (backlog), never answers
  ASSERT_GE(fd, 0);
  RegistryClientOptions o;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  o.insecure_registries.insert(host);
  o.timeout = absl::Seconds(1);
  RegistryClient client(o);
  const absl::Time begin = absl::Now();
  absl::Status s = client.Ping(host);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_LT(absl::Now() - begin, absl::Seconds(10));
  close(fd);
}

// The timeout is about progress: a body that keeps coming for longer than
// the timeout is fine.
TEST(RegistryClientTest, SlowSteadyBodyDoesNotTimeOut) {
  int port = 0;
  int fd = ListeningSocket(&port);
  ASSERT_GE(fd, 0);
  std::thread server([fd] {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[4096];
    (void)read(c, buf, sizeof(buf));  // the request (small, one read)
    const std::string chunk(100000, ' ');
    const std::string head =
        absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: ", kOciManifest,
                     "\r\nContent-Length: ", 30 * chunk.size() + 2, "\r\n\r\n{");
    (void)!write(c, head.data(), head.size());
    for (int i = 0; i < 30; ++i) {
      (void)!write(c, chunk.data(), chunk.size());
      absl::SleepFor(absl::Milliseconds(100));
    }
    (void)!write(c, "}", 1);
    close(c);
  });
  RegistryClientOptions o;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  o.insecure_registries.insert(host);
  o.timeout = absl::Seconds(1);
  RegistryClient client(o);
  const absl::Time begin = absl::Now();
  auto m = client.GetManifest(*ParseReference(host + "/x:1"), "1");
  server.join();
  close(fd);
  // 3 s of body with a 1 s timeout: the body arrives; it is then rejected
  // for what it is (an object without mediaType/config/manifests).
  EXPECT_GE(absl::Now() - begin, absl::Seconds(2));
  EXPECT_NE(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
}

// ... but a body that stops coming fails after the timeout.
TEST(RegistryClientTest, StalledBodyTimesOutAsUnavailable) {
  int port = 0;
  int fd = ListeningSocket(&port);
  ASSERT_GE(fd, 0);
  absl::Notification done;
  std::thread server([fd, &done] {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[4096];
    (void)read(c, buf, sizeof(buf));
    const std::string head = absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: ", kOciManifest,
                                          "\r\nContent-Length: 100000\r\n\r\n{  ");
    (void)!write(c, head.data(), head.size());
    done.WaitForNotificationWithTimeout(absl::Seconds(20));
    close(c);
  });
  RegistryClientOptions o;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  o.insecure_registries.insert(host);
  o.timeout = absl::Seconds(1);
  RegistryClient client(o);
  const absl::Time begin = absl::Now();
  auto m = client.GetManifest(*ParseReference(host + "/x:1"), "1");
  const absl::Duration took = absl::Now() - begin;
  done.Notify();
  server.join();
  close(fd);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
  EXPECT_LT(took, absl::Seconds(10));
}

// Cancelling (berthd stopping) ends a download that would otherwise wait
// out the timeout, keeps what arrived for the next pull, and refuses new
// requests at once.
TEST(RegistryClientTest, CancelEndsAStalledDownloadAndKeepsWhatArrived) {
  int port = 0;
  int fd = ListeningSocket(&port);
  ASSERT_GE(fd, 0);
  const std::string blob(1 << 20, 'b');
  const std::string digest = DigestOf(blob);
  const size_t sent = 200000;
  absl::Notification done;
  std::thread server([&] {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[4096];
    (void)read(c, buf, sizeof(buf));
    const std::string head = absl::StrCat(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ",
        blob.size(), "\r\n\r\n");
    (void)!write(c, head.data(), head.size());
    (void)!write(c, blob.data(), sent);
    done.WaitForNotificationWithTimeout(absl::Seconds(60));  // then stalls
    close(c);
  });
  berth::testing::TempDir dir;
  auto store = ContentStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  RegistryClientOptions o;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  o.insecure_registries.insert(host);
  o.timeout = absl::Seconds(60);  // only the cancellation can end it early
  o.cancellation = std::make_shared<PullCancellation>();
  RegistryClient client(o);
  std::atomic<int64_t> arrived{0};
  absl::Status fetched;
  absl::Time cancelled_at;
  std::thread pull([&] {
    Descriptor d;
    d.digest = digest;
    d.size = static_cast<int64_t>(blob.size());
    fetched = client.FetchBlob(*ParseReference(host + "/x:1"), d, store->get(), "pull image x",
                               [&](int64_t bytes) { arrived = bytes; });
  });
  // The client hands the body on in chunks of its own: wait for some, then
  // for the rest of what it will hand on before the stall.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (arrived.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t before_cancel = arrived.load();
  EXPECT_GT(before_cancel, 0);
  EXPECT_LE(before_cancel, static_cast<int64_t>(sent));
  cancelled_at = absl::Now();
  o.cancellation->Cancel();
  pull.join();
  const absl::Duration took = absl::Now() - cancelled_at;
  done.Notify();
  server.join();
  close(fd);
  EXPECT_EQ(fetched.code(), absl::StatusCode::kCancelled) << fetched;
  EXPECT_THAT(fetched.message(), HasSubstr("pull image x: blob " + digest));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_FALSE((*store)->Has(digest));
  const std::string partial =
      absl::StrCat(dir.path(), "/ingest/", digest.substr(strlen("sha256:")), ".partial");
  absl::StatusOr<std::string> kept = runtime::ReadFile(partial, blob.size());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(static_cast<int64_t>(kept->size()), before_cancel);
  EXPECT_EQ(*kept, blob.substr(0, kept->size()));

  // New requests fail at once, without a connection.
  const absl::Time begin = absl::Now();
  absl::Status ping = client.Ping(host);
  EXPECT_EQ(ping.code(), absl::StatusCode::kCancelled) << ping;
  EXPECT_LT(absl::Now() - begin, absl::Seconds(1));
}

TEST(RegistryClientTest, BaseUrls) {
  RegistryClientOptions o;
  o.insecure_registries.insert("127.0.0.1:5000");
  RegistryClient client(o);
  EXPECT_EQ(client.BaseUrl("docker.io"), "https://registry-1.docker.io");
  EXPECT_EQ(client.BaseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
  EXPECT_EQ(client.BaseUrl("127.0.0.1:5001"), "https://127.0.0.1:5001");  // not implicit
  EXPECT_EQ(client.BaseUrl("localhost"), "https://localhost");
}

TEST(SelectPlatformTest, PicksOsArchAndVariant) {
  auto d = [](std::string arch, std::string variant, std::string digest_seed) {
    Descriptor x;
    x.digest = DigestOf(digest_seed);
    x.platform = {"linux", arch, variant};
    return x;
  };
  std::vector<Descriptor> index = {d("amd64", "", "a"), d("arm", "v6", "b"), d("arm", "v7", "c"),
                                   d("arm64", "", "d")};
  EXPECT_EQ(SelectPlatform(index, {"linux", "amd64", ""})->digest, DigestOf("a"));
  EXPECT_EQ(SelectPlatform(index, {"linux", "arm", "v7"})->digest, DigestOf("c"));
  EXPECT_EQ(SelectPlatform(index, {"linux", "arm64", "v8"})->digest, DigestOf("d"));
  auto none = SelectPlatform(index, {"windows", "amd64", ""});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("linux/arm/v7"));
  EXPECT_EQ(NodePlatform().os, "linux");
  EXPECT_FALSE(NodePlatform().architecture.empty());
}

}  // namespace
}  // namespace berth::image
