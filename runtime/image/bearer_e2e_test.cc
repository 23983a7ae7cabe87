// The bearer token flow and blob redirects against a real registry behind
// a small front (cpprestsdk http_listener on 127.0.0.1): the front demands
// a bearer token issued by its token endpoint (which checks basic
// credentials, service and scope) and redirects blob GETs to a separate
// "storage" listener that refuses requests carrying credentials.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <cpprest/http_listener.h>

#include <atomic>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/image/content_store.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"
#include "runtime/sys/process.h"
#include "tests/registry_env.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using ::testing::HasSubstr;

constexpr char kToken[] = "tok-0123";

class Front {
 public:
  Front(std::string upstream, std::string user, std::string password)
      : upstream_("http://" + upstream), user_(user), password_(password) {}

  ~Front() {
    for (auto* l : {registry_.get(), storage_.get()}) {
      if (l != nullptr) l->close().wait();
    }
  }

  absl::Status Start() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto p1 = testing::FreePort();
      auto p2 = testing::FreePort();
      if (!p1.ok() || !p2.ok()) return absl::UnavailableError("no free port");
      try {
        registry_ = std::make_unique<http_listener>(absl::StrCat("http://127.0.0.1:", *p1));
        storage_ = std::make_unique<http_listener>(absl::StrCat("http://127.0.0.1:", *p2));
        registry_->support(http::methods::GET, [this](http::http_request r) { Registry(r); });
        storage_->support(http::methods::GET, [this](http::http_request r) { Storage(r); });
        registry_->open().wait();
        storage_->open().wait();
        host_ = absl::StrCat("127.0.0.1:", *p1);
        storage_host_ = absl::StrCat("127.0.0.1:", *p2);
        return absl::OkStatus();
      } catch (const std::exception& e) {
        registry_.reset();
        storage_.reset();
      }
    }
    return absl::UnavailableError("listen on 127.0.0.1");
  }

  const std::string& host() const { return host_; }
  std::atomic<int> token_requests{0};
  std::atomic<int> storage_requests{0};
  std::atomic<int> manifest_requests{0};
  std::atomic<bool> slow_manifests{false};

 private:
  // Relays GET `path` from the real registry.
  void Relay(http::http_request req, const std::string& path) {
    http::client::http_client c(upstream_);
    http::http_request up(http::methods::GET);
    up.set_request_uri(path);
    auto accept = req.headers().find("Accept");
    if (accept != req.headers().end()) up.headers().add("Accept", accept->second);
    auto resp = c.request(up).get();
    http::http_response out(resp.status_code());
    for (const char* h : {"Content-Type", "Docker-Content-Digest"}) {
      auto it = resp.headers().find(h);
      if (it != resp.headers().end()) out.headers().add(h, it->second);
    }
    out.set_body(resp.extract_vector().get());
    req.reply(out).wait();
  }

  void Registry(http::http_request req) {
    const std::string path = req.relative_uri().path();
    if (path == "/token") return Token(req);
    auto auth = req.headers().find("Authorization");
    if (auth == req.headers().end() || auth->second != std::string("Bearer ") + kToken) {
      http::http_response r(401);
      r.headers().add("WWW-Authenticate",
                      absl::StrCat("Bearer realm=\"http://", host_,
                                   "/token\",service=\"front\",scope=\"repository:busybox:pull\""));
      req.reply(r).wait();
      return;
    }
    if (absl::StrContains(path, "/blobs/")) {
      http::http_response r(307);
      r.headers().add("Location", absl::StrCat("http://", storage_host_, path));
      req.reply(r).wait();
      return;
    }
    if (absl::StrContains(path, "/manifests/")) {
      ++manifest_requests;
      if (slow_manifests) absl::SleepFor(absl::Milliseconds(500));
    }
    Relay(req, path);
  }

  void Token(http::http_request req) {
    ++token_requests;
    auto q = web::uri::split_query(req.relative_uri().query());
    auto auth = req.headers().find("Authorization");
    const std::string want = "Basic " + absl::Base64Escape(user_ + ":" + password_);
    if (!user_.empty() && (auth == req.headers().end() || auth->second != want)) {
      req.reply(401).wait();
      return;
    }
    if (q["service"] != "front" || q["scope"] != "repository:busybox:pull") {
      req.reply(400).wait();
      return;
    }
    req.reply(200, web::json::value::parse(
                       absl::StrCat("{\"token\":\"", kToken, "\",\"expires_in\":300}")))
        .wait();
  }

  void Storage(http::http_request req) {
    ++storage_requests;
    // Credentials must not follow a redirect to another host.
    if (req.headers().has("Authorization")) {
      req.reply(400).wait();
      return;
    }
    Relay(req, req.relative_uri().path());
  }

  const std::string upstream_, user_, password_;
  std::string host_, storage_host_;
  std::unique_ptr<http_listener> registry_, storage_;
};

// A registry with busybox:1 behind a token-issuing front, and an empty
// content store in a directory of its own.
struct BearerWorld {
  BearerWorld(const std::string& user, const std::string& password) {
    auto started = testing::RegistryEnv::Start();
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return;
    env = *std::move(started);
    EXPECT_TRUE(env->PushTestImages({"busybox"}).ok());
    front = std::make_unique<Front>(env->host(), user, password);
    EXPECT_TRUE(front->Start().ok());
    auto opened = ContentStore::Open(dir.path() + "/store");
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) store = *std::move(opened);
  }
  bool ok() const { return env && front && store; }

  testing::TempDir dir{"berth-bearer"};
  std::unique_ptr<testing::RegistryEnv> env;
  std::unique_ptr<Front> front;
  std::unique_ptr<ContentStore> store;
};

TEST(BearerE2eTest, TokenFromTheChallengeAndRedirectedBlobs) {
  BearerWorld w("alice", "pw");
  ASSERT_TRUE(w.ok());
  Front& front = *w.front;

  RegistryClientOptions o;
  o.insecure_registries.insert(front.host());
  o.insecure_registries.insert(w.env->host());
  o.auth.Set(front.host(), {"alice", "pw"});
  o.timeout = absl::Seconds(10);
  RegistryClient client(o);
  Puller puller(w.store.get(), &client);
  auto r = puller.Pull(front.host() + "/busybox:1");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->layers.size(), 1u);
  EXPECT_TRUE(w.store->Has(r->layers[0].digest));
  // One token for the scope, reused for manifest, config and layer.
  EXPECT_EQ(front.token_requests.load(), 1);
  EXPECT_EQ(front.storage_requests.load(), 2);  // config and layer

  // Concurrent pulls of one reference share one pull: one manifest GET
  // (made slow so that all of them overlap it).
  front.manifest_requests = 0;
  front.slow_manifests = true;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (puller.Pull(front.host() + "/busybox:1").ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(front.manifest_requests.load(), 1);
  front.slow_manifests = false;

  RegistryClientOptions wrong = o;
  wrong.auth.Set(front.host(), {"alice", "nope"});
  RegistryClient wrong_client(wrong);
  auto denied = Puller(w.store.get(), &wrong_client).Pull(front.host() + "/busybox:1");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << denied.status();
  EXPECT_THAT(denied.status().message(), HasSubstr("get token"));
}

TEST(BearerE2eTest, AnonymousToken) {
  BearerWorld w("", "");
  ASSERT_TRUE(w.ok());
  Front& front = *w.front;
  RegistryClientOptions o;
  o.insecure_registries.insert(front.host());
  RegistryClient client(o);
  auto r = Puller(w.store.get(), &client).Pull(front.host() + "/busybox:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(front.token_requests.load(), 1);
}

}  // namespace
}  // namespace berth::image
