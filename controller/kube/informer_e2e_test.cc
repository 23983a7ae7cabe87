// ApiClient and Informer against the real API server emulator.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "controller/kube/api_client.h"
#include "controller/kube/informer.h"
#include "controller/kube/kube_source.h"
#include "controller/kube/testing/kube_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::kube {
namespace {

using ::testing::ElementsAre;
using testing::Emulator;
using ::testing::IsEmpty;
using testing::Spec;
using ::testing::UnorderedElementsAreArray;
using testing::WaitFor;

// What the handlers saw, in order: "add ns/name", "update ...", "delete ...".
class Recorder {
 public:
  Informer::Handlers Handlers() {
    Informer::Handlers h;
    h.on_add = [this](const std::string& k, const nlohmann::json&) { Push("add " + k); };
    h.on_update = [this](const std::string& k, const nlohmann::json&) { Push("update " + k); };
    h.on_delete = [this](const std::string& k, const nlohmann::json&) { Push("delete " + k); };
    return h;
  }
  void Push(const std::string& s) {
    absl::MutexLock l(&mu_);
    seen_.push_back(s);
  }
  std::vector<std::string> Seen() {
    absl::MutexLock l(&mu_);
    return seen_;
  }
  bool Saw(const std::string& s) {
    absl::MutexLock l(&mu_);
    return std::find(seen_.begin(), seen_.end(), s) != seen_.end();
  }
  void Clear() {
    absl::MutexLock l(&mu_);
    seen_.clear();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen_;
};

Informer::Options FastOptions() {
  Informer::Options o;
  o.path = kNodeContainersPath;
  o.name = "test";
  o.initial_backoff = absl::Milliseconds(50);
  o.max_backoff = absl::Milliseconds(400);
  o.inactivity_timeout = absl::Seconds(5);
  return o;
}

// Starts `informer` and waits for its first list.
void StartAndSync(Informer& informer) {
  informer.Start();
  ASSERT_TRUE(WaitFor([&] { return informer.HasSynced(); }, absl::Seconds(10)));
}

std::string Path(const std::string& ns, const std::string& name) {
  return absl::StrCat("/apis/berth.dev/v1alpha1/namespaces/", ns, "/nodecontainers/", name);
}

// Keys and resourceVersions the server lists now.
std::map<std::string, std::string> ServerState(Emulator& emu) {
  absl::StatusOr<nlohmann::json> list = emu.Call("GET", kNodeContainersPath);
  EXPECT_TRUE(list.ok()) << list.status();
  std::map<std::string, std::string> out;
  if (!list.ok()) return out;
  for (const auto& item : (*list)["items"]) {
    out[ObjectKey(item)] = item["metadata"]["resourceVersion"].get<std::string>();
  }
  return out;
}

std::map<std::string, std::string> StoreState(const Informer& informer) {
  std::map<std::string, std::string> out;
  for (const auto& item : informer.List()) {
    out[ObjectKey(item)] = item["metadata"]["resourceVersion"].get<std::string>();
  }
  return out;
}

TEST(ApiClientTest, RequestAndErrors) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  absl::StatusOr<ApiResponse> r = emu.admin().Request("GET", "/version");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 200);
  EXPECT_TRUE(r->body.contains("gitVersion"));
  r = emu.admin().Request("GET", "/api/v1/namespaces/nope");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 404);
  EXPECT_TRUE(absl::IsNotFound(ResponseError(*r, "get namespace nope")));
  EXPECT_THAT(ResponseMessage(*r), ::testing::HasSubstr("nope"));

  // Nothing listens on a port the emulator had: kUnavailable, promptly.
  ClusterConfig dead;
  dead.server = "http://127.0.0.1:1";
  auto client = ApiClient::Create(dead);
  ASSERT_TRUE(client.ok());
  r = (*client)->Request("GET", "/version", std::nullopt, "application/json", absl::Seconds(5));
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
}

TEST(ApiClientTest, SilentServerTimesOut) {
  // A socket that accepts connections (the kernel's backlog) and never
  // answers.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ClusterConfig config;
  config.server = absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port));
  ApiClient::Options options;
  options.request_timeout = absl::Milliseconds(700);
  auto client = ApiClient::Create(config, options);
  ASSERT_TRUE(client.ok());
  absl::Time t = absl::Now();
  absl::StatusOr<ApiResponse> r = (*client)->Request("GET", "/version");
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_LT(absl::Now() - t, absl::Seconds(3));
  // A watch waits for its headers as long as a request does.
  Cancellation cancel;
  t = absl::Now();
  r = (*client)->Watch(
      "/api/v1/nodes?watch=1", [](absl::string_view) { return true; }, cancel, absl::Seconds(60));
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_LT(absl::Now() - t, absl::Seconds(3));
  // A cancelled request ends at once.
  cancel.Cancel();
  t = absl::Now();
  r = (*client)->Request("GET", "/version", std::nullopt, "application/json", absl::Seconds(30),
                         &cancel);
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_LT(absl::Now() - t, absl::Seconds(3));
  close(fd);
}

TEST(ApiClientTest, WatchStreamsLinesAndTimesOut) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  std::atomic<int> lines{0};
  Cancellation cancel;
  absl::Notification first;
  std::thread watcher([&] {
    // No bookmarks asked for: after the one event, nothing arrives, and the
    // inactivity timeout ends the watch.
    absl::StatusOr<ApiResponse> r = emu.admin().Watch(
        std::string(kNodeContainersPath) + "?watch=1",
        [&](absl::string_view line) {
          nlohmann::json ev = nlohmann::json::parse(line);
          EXPECT_EQ(ev["type"], "ADDED");
          ++lines;
          first.Notify();
          return true;
        },
        cancel, absl::Seconds(2));
    EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  });
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "a", Spec()));
  EXPECT_TRUE(first.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Time start = absl::Now();
  watcher.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(lines.load(), 1);

  // Cancel ends a watch promptly.
  absl::Time cancelled_at;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    cancelled_at = absl::Now();
    cancel.Cancel();
  });
  absl::StatusOr<ApiResponse> r = emu.admin().Watch(
      std::string(kNodeContainersPath) + "?watch=1&allowWatchBookmarks=true",
      [&](absl::string_view) { return true; }, cancel, absl::Seconds(60));
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(2));

  // A watch from an expired resourceVersion: 410 as an ERROR event.
  BERTH_ASSERT_OK(emu.Post("/_emulator/compact"));
  Cancellation cancel2;
  int code = 0;
  r = emu.admin().Watch(
      std::string(kNodeContainersPath) + "?watch=1&resourceVersion=1",
      [&](absl::string_view line) {
        nlohmann::json ev = nlohmann::json::parse(line);
        if (ev["type"] == "ERROR") code = ev["object"]["code"].get<int>();
        return true;
      },
      cancel2, absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(code, 410);
}

TEST(InformerTest, ListThenWatchSeesCreateUpdateDelete) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  BERTH_ASSERT_OK(emu.CreateNamespace("other"));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "before", Spec()));
  Recorder rec;
  Informer informer(emu.admin(), FastOptions(), rec.Handlers());
  EXPECT_FALSE(informer.HasSynced());
  ASSERT_NO_FATAL_FAILURE(StartAndSync(informer));
  EXPECT_THAT(rec.Seen(), ElementsAre("add default/before"));
  EXPECT_EQ(informer.ListCount(), 1);

  BERTH_ASSERT_OK(emu.CreateNodeContainer("other", "x", Spec()));
  ASSERT_TRUE(WaitFor([&] { return rec.Saw("add other/x"); }, absl::Seconds(10)));
  BERTH_ASSERT_OK(emu.Call("PATCH", Path("other", "x"),
                           nlohmann::json{{"metadata", {{"labels", {{"k", "v"}}}}}},
                           "application/merge-patch+json"));
  ASSERT_TRUE(WaitFor([&] { return rec.Saw("update other/x"); }, absl::Seconds(10)));
  auto got = informer.Get("other/x");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)["metadata"]["labels"]["k"], "v");
  BERTH_ASSERT_OK(emu.Call("DELETE", Path("default", "before")));
  ASSERT_TRUE(WaitFor([&] { return rec.Saw("delete default/before"); }, absl::Seconds(10)));
  EXPECT_FALSE(informer.Get("default/before").has_value());
  EXPECT_THAT(rec.Seen(), ElementsAre("add default/before", "add other/x", "update other/x",
                                      "delete default/before"));
  EXPECT_EQ(StoreState(informer), ServerState(emu));

  // Bookmarks advance the resourceVersion a reconnect starts from.
  const std::string rv = informer.ResourceVersion();
  BERTH_ASSERT_OK(emu.Call(
      "POST", "/api/v1/namespaces",
      nlohmann::json{
          {"metadata", {{"name", "bump"}}}}));  // another kind moves the global resourceVersion
  EXPECT_TRUE(WaitFor([&] { return std::stoll(informer.ResourceVersion()) > std::stoll(rv); },
                      absl::Seconds(10)));

  const absl::Time t = absl::Now();
  informer.Stop();
  EXPECT_LT(absl::Now() - t, absl::Seconds(2));
  EXPECT_EQ(informer.ListCount(), 1);
}

TEST(InformerTest, DroppedWatchResumesWithoutRelist) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  for (const char* n : {"a", "b", "c"}) {
    BERTH_ASSERT_OK(emu.CreateNodeContainer("default", n, Spec()));
  }
  Recorder rec;
  Informer informer(emu.admin(), FastOptions(), rec.Handlers());
  ASSERT_NO_FATAL_FAILURE(StartAndSync(informer));
  for (int round = 0; round < 5; ++round) {
    BERTH_ASSERT_OK(emu.Post("/_emulator/drop-watches"));
    const std::string name = absl::StrCat("new", round);
    BERTH_ASSERT_OK(emu.CreateNodeContainer("default", name, Spec()));
    BERTH_ASSERT_OK(
        emu.Call("PATCH", Path("default", "a"),
                 nlohmann::json{{"metadata", {{"labels", {{"round", absl::StrCat(round)}}}}}},
                 "application/merge-patch+json"));
    if (round == 2) BERTH_ASSERT_OK(emu.Call("DELETE", Path("default", "b")));
  }
  EXPECT_TRUE(WaitFor([&] { return StoreState(informer) == ServerState(emu); }, absl::Seconds(15)));
  EXPECT_EQ(StoreState(informer), ServerState(emu));
  EXPECT_TRUE(rec.Saw("delete default/b"));
  EXPECT_EQ(informer.ListCount(), 1);  // resumed from its resourceVersion each time
  EXPECT_GE(informer.WatchCount(), 2);
}

TEST(InformerTest, ExpiredResourceVersionRelistsAndDeliversMissedChanges) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  for (const char* n : {"gate", "keep", "change", "gone", "same"}) {
    BERTH_ASSERT_OK(emu.CreateNodeContainer("default", n, Spec()));
  }
  // The handler of an update to "gate" blocks the informer's thread, so it
  // misses everything below: the watch is dropped and compacted meanwhile.
  absl::Notification blocked, release;
  Recorder rec;
  Informer::Handlers h = rec.Handlers();
  auto on_update = h.on_update;
  h.on_update = [&, on_update](const std::string& k, const nlohmann::json& o) {
    on_update(k, o);
    if (k == "default/gate" && !blocked.HasBeenNotified()) {
      blocked.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(30));
    }
  };
  Informer informer(emu.admin(), FastOptions(), h);
  ASSERT_NO_FATAL_FAILURE(StartAndSync(informer));
  const std::string same_rv = (*informer.Get("default/same"))["metadata"]["resourceVersion"];
  BERTH_ASSERT_OK(emu.Call("PATCH", Path("default", "gate"),
                           nlohmann::json{{"metadata", {{"labels", {{"x", "1"}}}}}},
                           "application/merge-patch+json"));
  ASSERT_TRUE(blocked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  BERTH_ASSERT_OK(emu.Post("/_emulator/drop-watches"));
  BERTH_ASSERT_OK(emu.Call("DELETE", Path("default", "gone")));
  BERTH_ASSERT_OK(emu.Call("PATCH", Path("default", "change"),
                           nlohmann::json{{"metadata", {{"labels", {{"y", "2"}}}}}},
                           "application/merge-patch+json"));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "added", Spec()));
  BERTH_ASSERT_OK(emu.Post("/_emulator/compact"));
  rec.Clear();
  release.Notify();

  EXPECT_TRUE(WaitFor([&] { return StoreState(informer) == ServerState(emu); }, absl::Seconds(15)));
  EXPECT_EQ(StoreState(informer), ServerState(emu));
  EXPECT_EQ(informer.ListCount(), 2);
  // The difference, with the missed deletion, and nothing for unchanged
  // objects ("keep", "same", "gate" were not touched since the gate update).
  EXPECT_THAT(rec.Seen(), UnorderedElementsAreArray({"delete default/gone", "update default/change",
                                                     "add default/added"}));
  EXPECT_EQ((*informer.Get("default/same"))["metadata"]["resourceVersion"], same_rv);
}

TEST(InformerTest, OutageKeepsStoreAndReconnects) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "a"));
  Recorder rec;
  Informer informer(emu.admin(), FastOptions(), rec.Handlers());
  ASSERT_NO_FATAL_FAILURE(StartAndSync(informer));
  const int64_t watches = informer.WatchCount();
  BERTH_ASSERT_OK(emu.Post("/_emulator/outage?seconds=2"));
  // During the outage the store keeps what it had and reconnects fail.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(informer.Get("default/a").has_value());
  EXPECT_TRUE(informer.HasSynced());
  EXPECT_TRUE(WaitFor([&] { return emu.CreateNodeContainer("default", "b", Spec()).ok(); },
                      absl::Seconds(10)));
  EXPECT_TRUE(WaitFor([&] { return rec.Saw("add default/b"); }, absl::Seconds(10)));
  EXPECT_GT(informer.WatchCount(), watches + 1);
  EXPECT_EQ(informer.ListCount(), 1);
  absl::StatusOr<std::vector<nlohmann::json>> log = emu.Requests();
  ASSERT_TRUE(log.ok());
  int refused = 0;
  for (const auto& e : *log) refused += e["code"] == -1 ? 1 : 0;
  EXPECT_GT(refused, 0) << "the informer did not try during the outage";
}

// A watch that ends while the server answers 429 or 500: the informer keeps
// its store, backs off between tries (not a loop) and resumes after.
TEST(InformerTest, TooManyRequestsAndInternalErrorsBackOffAndResume) {
  Emulator emu;
  BERTH_ASSERT_OK(emu.StartedWithObject("default", "a"));
  Recorder rec;
  Informer informer(emu.admin(), FastOptions(), rec.Handlers());
  ASSERT_NO_FATAL_FAILURE(StartAndSync(informer));
  int n = 0;
  for (const char* code : {"429", "500"}) {
    SCOPED_TRACE(code);
    BERTH_ASSERT_OK(emu.ClearRequests());
    BERTH_ASSERT_OK(emu.Post(absl::StrCat("/_emulator/errors?code=", code, "&seconds=2")));
    BERTH_ASSERT_OK(emu.Post("/_emulator/drop-watches"));
    absl::SleepFor(absl::Seconds(1));
    EXPECT_TRUE(informer.Get("default/a").has_value());
    EXPECT_TRUE(informer.HasSynced());
    const std::string name = absl::StrCat("b", ++n);
    EXPECT_TRUE(WaitFor([&] { return emu.CreateNodeContainer("default", name, Spec()).ok(); },
                        absl::Seconds(10)));
    EXPECT_TRUE(WaitFor([&] { return rec.Saw("add default/" + name); }, absl::Seconds(10)));
    absl::StatusOr<std::vector<nlohmann::json>> log = emu.Requests();
    ASSERT_TRUE(log.ok());
    int refused = 0;
    for (const auto& e : *log) {
      const bool informers = e["verb"] == "list" || e["verb"] == "watch";
      refused += informers && e["code"] == std::atoi(code) ? 1 : 0;
    }
    // 500: 50 ms doubling to 400 ms over 2 s, a handful of tries; 429: at
    // least its Retry-After (1 s) between tries.
    EXPECT_GT(refused, 0) << "the informer did not try while refused";
    EXPECT_LE(refused, code == std::string("429") ? 3 : 15) << "the informer did not back off";
  }
  EXPECT_EQ(StoreState(informer), ServerState(emu));
}

TEST(InformerTest, SelectorsGoToTheServer) {
  Emulator emu;
  ASSERT_TRUE(emu.started());
  BERTH_ASSERT_OK(emu.InstallCrd());
  BERTH_ASSERT_OK(
      emu.CreateNodeContainer("default", "mine", Spec({{"nodeName", "n1"}}), {{"app", "x"}}));
  BERTH_ASSERT_OK(
      emu.CreateNodeContainer("default", "other", Spec({{"nodeName", "n2"}}), {{"app", "x"}}));
  BERTH_ASSERT_OK(emu.CreateNodeContainer("default", "nolabel", Spec({{"nodeName", "n1"}})));
  Informer::Options o = FastOptions();
  o.field_selector = "spec.nodeName=n1";
  o.label_selector = "app in (x,z)";
  Recorder rec;
  Informer informer(emu.admin(), o, rec.Handlers());
  ASSERT_NO_FATAL_FAILURE(StartAndSync(informer));
  EXPECT_THAT(informer.Keys(), ElementsAre("default/mine"));
  // Moving an object out of the selection deletes it from the store.
  BERTH_ASSERT_OK(emu.Call("PATCH", Path("default", "mine"),
                           nlohmann::json{{"spec", {{"nodeName", "n2"}}}},
                           "application/merge-patch+json"));
  EXPECT_TRUE(WaitFor([&] { return rec.Saw("delete default/mine"); }, absl::Seconds(10)));
  EXPECT_THAT(informer.Keys(), IsEmpty());
}

}  // namespace
}  // namespace berth::kube
