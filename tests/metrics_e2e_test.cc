// berthd's metrics and health endpoints end to end: the real binary and
// real runc, scraped while containers run, crash-loop and fail to pull;
// checked by the real promtool, and by a real Prometheus server that scrapes
// berthd and is asked over its HTTP API. Every berthd here listens on a port
// of its own (--metrics-addr=127.0.0.1:0); metrics_default_port_e2e_test
// takes the default port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "runtime/sys/unique_fd.h"
#include "tests/berthd_flags.h"
#include "tests/http_get.h"
#include "tests/processes.h"
#include "tests/registry_env.h"
#include "tests/status_files.h"
#include "tests/test_env.h"

namespace berth {
namespace {

using ::berth::testing::BusyboxRootfs;
using ::berth::testing::HttpGet;
using ::berth::testing::HttpResponse;
using ::berth::testing::SampleValue;
using ::berth::testing::TestWorld;
using ::berth::testing::WaitFor;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr absl::Duration kWait = absl::Seconds(30);

std::string Manifest(const std::string& name, const std::string& image, const std::string& command,
                     const std::string& extra_spec = "") {
  return absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n  name: ",
                      name, "\nspec:\n  image: \"", image, "\"\n  command: [\"sh\", \"-c\", ",
                      json(command).dump(), "]\n", extra_spec);
}

// Exits with 0 on SIGTERM.
constexpr char kPolite[] = "trap 'exit 0' TERM; while true; do sleep 0.1; done";

class MetricsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = world_.dir() + "/manifests";
    ASSERT_TRUE(runtime::MakeDirs(manifests_).ok());
    ASSERT_TRUE(world_.AddBusyboxImage().ok());
  }

  void TearDown() override {
    prometheus_.Stop(SIGTERM);
    berthd_.Stop(SIGKILL);
    EXPECT_THAT(world_.RemoveContainers(), ::testing::IsEmpty());
    EXPECT_THAT(world_.Leaks(), IsEmpty());
    if (HasFailure()) std::cerr << "berthd log:\n" << berthd_.Log();
  }

  std::vector<std::string> Flags() const {
    return {BERTH_BERTHD_PATH,
            "--manifests-dir=" + manifests_,
            "--state-dir=" + world_.berth_state_dir(),
            "--run-dir=" + world_.run_dir(),
            "--images-dir=" + world_.dir() + "/images",
            "--cgroup-parent=" + world_.cgroup_parent(),
            "--monitor=" BERTH_MONITOR_PATH,
            berth::testing::NoCniFlag(world_),
            "--relist-period=100ms",
            "--resync-period=2s",
            "--restart-backoff-initial=300ms",
            "--restart-backoff-max=2s",
            "--workers=2"};
  }

  // Starts berthd listening on a free port (or as `extra` says) and returns
  // the port it logged.
  int StartBerthd(std::vector<std::string> extra = {"--metrics-addr=127.0.0.1:0"}) {
    std::vector<std::string> argv = Flags();
    argv.insert(argv.end(), extra.begin(), extra.end());
    EXPECT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
    int port = 0;
    const std::regex listening("metrics and health on http://127\\.0\\.0\\.1:([0-9]+) ");
    EXPECT_TRUE(WaitFor(
        [&] {
          std::smatch m;
          const std::string log = berthd_.Log();
          return std::regex_search(log, m, listening) && absl::SimpleAtoi(m[1].str(), &port);
        },
        kWait))
        << berthd_.Log();
    return port;
  }

  void Write(const std::string& file, const std::string& content) {
    berth::testing::WriteManifestFile(manifests_, file, content);
  }

  template <typename Pred>
  json WaitStatus(const std::string& id, Pred pred) {
    return berth::testing::WaitStatusFile(world_.berth_state_dir(), id, pred, kWait);
  }

  // Scrapes until `pred(scrape)` holds; returns the last scrape.
  template <typename Pred>
  std::string ScrapeUntil(int port, Pred pred) {
    std::string text;
    EXPECT_TRUE(WaitFor(
        [&] {
          HttpResponse r = HttpGet(port, "/metrics");
          text = r.body;
          return r.code == 200 && pred(text);
        },
        kWait))
        << text;
    return text;
  }

  TestWorld world_;
  std::string manifests_;
  berth::testing::OwnedProcess berthd_;
  berth::testing::OwnedProcess prometheus_;
};

TEST_F(MetricsE2eTest, AScrapeWhileContainersRunRestartAndFailPassesPromtool) {
  Write("web.yaml", Manifest("web", "busybox", kPolite));
  Write("api.yaml", Manifest("api", "busybox", kPolite));
  Write("crashy.yaml", Manifest("crashy", "busybox", "exit 3"));
  // Nothing listens on port 1: every pull fails at once, on loopback.
  Write("bad.yaml", Manifest("bad", "127.0.0.1:1/nosuch:latest", "true"));
  Write("broken.yaml", "kind: [\n");
  const int port = StartBerthd();
  ASSERT_GT(port, 0);
  WaitStatus("default.web", berth::testing::IsRunning);
  WaitStatus("default.api", berth::testing::IsRunning);

  const std::string text = ScrapeUntil(port, [](const std::string& t) {
    return SampleValue(t, "berth_container_restarts_total{name=\"crashy\",namespace=\"default\"}")
                   .value_or(0) >= 2 &&
           SampleValue(t, "berth_image_pulls_total{result=\"unavailable\"}").value_or(0) >= 1 &&
           SampleValue(t, "berth_containers{phase=\"Running\"}") == 2;
  });
  EXPECT_EQ(SampleValue(text, "berth_containers{phase=\"Pending\"}"), 1) << "bad";
  EXPECT_EQ(SampleValue(text, "berth_container_restarts_total{name=\"web\",namespace=\"default\"}"),
            0);
  EXPECT_EQ(SampleValue(text, "berth_manifest_errors{file=\"" + manifests_ + "/broken.yaml\"}"), 1);
  // cAdvisor's series, from the running containers' cgroups.
  for (const char* name : {"web", "api"}) {
    const std::string labels =
        absl::StrCat("{container=\"", name, "\",id=\"", world_.cgroup_parent(), "/default.", name,
                     "\",name=\"", name, "\",namespace=\"default\"}");
    EXPECT_GT(SampleValue(text, "container_cpu_usage_seconds_total" + labels).value_or(-1), 0)
        << labels;
    EXPECT_GT(SampleValue(text, "container_memory_working_set_bytes" + labels).value_or(-1), 0)
        << labels;
  }
  EXPECT_GE(SampleValue(text, "workqueue_adds_total{name=\"containers\"}").value_or(0), 4);
  EXPECT_TRUE(SampleValue(text, "workqueue_depth{name=\"containers\"}").has_value());
  EXPECT_TRUE(
      SampleValue(text, "workqueue_longest_running_processor_seconds{name=\"containers\"}"));
  EXPECT_GE(
      SampleValue(text, "workqueue_work_duration_seconds_count{name=\"containers\"}").value_or(0),
      4);
  EXPECT_GE(SampleValue(text, "berth_reconcile_duration_seconds_count").value_or(0), 4);
  // web, api and crashy at least twice.
  EXPECT_GE(
      SampleValue(text, "berth_runtime_operation_duration_seconds_count{operation=\"create\"}")
          .value_or(0),
      4);
  EXPECT_GE(SampleValue(text, "berth_runtime_operation_duration_seconds_count{operation=\"start\"}")
                .value_or(0),
            4);
  EXPECT_GE(SampleValue(text, "berth_image_pull_duration_seconds_count").value_or(0), 1);
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes").value_or(0), 1 << 20);
  EXPECT_GT(SampleValue(text, "process_open_fds").value_or(0), 3);
  EXPECT_GT(SampleValue(text, "process_start_time_seconds").value_or(0),
            absl::ToUnixSeconds(absl::Now()) - 600);
  EXPECT_TRUE(SampleValue(text, "process_cpu_seconds_total").has_value());
  EXPECT_THAT(text, HasSubstr("\nberth_build_info{compiler=\""));

  // The real linter on that very scrape.
  const std::string file = world_.dir() + "/scrape.txt";
  std::ofstream(file) << text;
  absl::StatusOr<runtime::CommandResult> promtool = runtime::RunCommand(
      {"/bin/sh", "-c", "exec /usr/bin/promtool check metrics < " + file}, absl::Seconds(30));
  ASSERT_TRUE(promtool.ok()) << promtool.status();
  EXPECT_EQ(promtool->exit_code, 0) << promtool->output;
  EXPECT_EQ(promtool->output, "") << "promtool's complaints";
}

TEST_F(MetricsE2eTest, APrometheusServerCountsTheRunningContainers) {
  constexpr int kContainers = 3;
  for (int i = 0; i < kContainers; ++i) {
    Write(absl::StrCat("c", i, ".yaml"), Manifest(absl::StrCat("c", i), "busybox", kPolite));
  }
  const int port = StartBerthd();
  ASSERT_GT(port, 0);
  for (int i = 0; i < kContainers; ++i) {
    WaitStatus(absl::StrCat("default.c", i), berth::testing::IsRunning);
  }

  const std::string dir = world_.dir() + "/prometheus";
  ASSERT_TRUE(runtime::MakeDirs(dir + "/data").ok());
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
         "scrape_configs:\n  - job_name: berthd\n    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << port << "']\n";
  absl::StatusOr<int> web = berth::testing::FreePort();
  ASSERT_TRUE(web.ok()) << web.status();
  ASSERT_TRUE(
      prometheus_
          .Start({"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
                  "--storage.tsdb.path=" + dir + "/data",
                  absl::StrCat("--web.listen-address=127.0.0.1:", *web), "--log.level=warn"},
                 dir + "/prometheus.log")
          .ok());

  // The value of a PromQL query with one result, as the API answers it:
  // {"status":"success","data":{"resultType":"vector","result":[{"metric":
  // {...},"value":[<time>,"<value>"]}]}}.
  auto query = [&](const std::string& encoded) -> std::optional<double> {
    HttpResponse r = HttpGet(*web, "/api/v1/query?query=" + encoded);
    if (r.code != 200) return std::nullopt;
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success" || j["data"]["result"].size() != 1) {
      return std::nullopt;
    }
    double v = 0;
    if (!absl::SimpleAtod(j["data"]["result"][0]["value"][1].get<std::string>(), &v)) {
      return std::nullopt;
    }
    return v;
  };
  // berth_containers{phase="Running"}
  const std::string running = "berth_containers%7Bphase%3D%22Running%22%7D";
  std::optional<double> seen;
  EXPECT_TRUE(WaitFor(
      [&] {
        seen = query(running);
        return seen == kContainers;
      },
      absl::Seconds(60)))
      << "last answer: " << (seen ? std::to_string(*seen) : "none") << "\nprometheus log:\n"
      << prometheus_.Log();
  // up{job="berthd"} and one working set per container.
  EXPECT_THAT(query("up%7Bjob%3D%22berthd%22%7D"), Optional(1.0));
  EXPECT_THAT(query("count(container_memory_working_set_bytes%7Bnamespace%3D%22default%22%7D)"),
              Optional(static_cast<double>(kContainers)));

  // One more: Prometheus sees it within a few scrapes.
  Write("c9.yaml", Manifest("c9", "busybox", kPolite));
  EXPECT_TRUE(WaitFor([&] { return query(running) == kContainers + 1; }, absl::Seconds(60)));
  EXPECT_EQ(WEXITSTATUS(prometheus_.Stop(SIGTERM)), 0) << prometheus_.Log();
}

TEST_F(MetricsE2eTest, HealthzAndReadyzAndShutdown) {
  // busybox sleep as PID 1 ignores SIGTERM: its stop takes the grace period.
  Write("stubborn.yaml",
        Manifest("stubborn", "busybox", "exec sleep 1000", "  terminationGracePeriodSeconds: 3\n"));
  const int port = StartBerthd({"--metrics-addr=127.0.0.1:0", "--stop-on-exit"});
  ASSERT_GT(port, 0);
  WaitStatus("default.stubborn", berth::testing::IsRunning);

  HttpResponse health = HttpGet(port, "/healthz");
  EXPECT_EQ(health.code, 200);
  EXPECT_EQ(health.body, "[+]relist ok\n[+]workers ok\nok\n");
  HttpResponse ready = HttpGet(port, "/readyz");
  EXPECT_EQ(ready.code, 200);
  EXPECT_EQ(ready.body, "ok\n");
  EXPECT_EQ(HttpGet(port, "/nothing").code, 404);

  // While it stops every container (3 s for this one), it is not ready.
  ASSERT_EQ(kill(berthd_.pid(), SIGTERM), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = HttpGet(port, "/readyz");
        return ready.code == 503;
      },
      absl::Seconds(3)))
      << ready.code << " " << ready.body;
  EXPECT_EQ(ready.body, "not ready: shutting down\n");
  const int status = berthd_.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(HttpGet(port, "/healthz").code, 0) << "still listening after berthd exited";
}

TEST_F(MetricsE2eTest, APortInUseStopsBerthdWithAClearError) {
  runtime::UniqueFd taken(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(taken.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(taken.get(), 1), 0);
  ASSERT_EQ(getsockname(taken.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string address = absl::StrCat("127.0.0.1:", ntohs(a.sin_port));

  Write("web.yaml", Manifest("web", "busybox", kPolite));
  std::vector<std::string> argv = Flags();
  argv.push_back("--metrics-addr=" + address);
  ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(berthd_.Log(), "listen for metrics on"); }, kWait));
  // Its signals are blocked: it exits by itself.
  const int status = berthd_.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_THAT(berthd_.Log(), HasSubstr("listen for metrics on " + address + ": "));
  EXPECT_FALSE(absl::StrContains(berthd_.Log(), "started container")) << "nothing was started";

  // A malformed address is a usage error (2) before anything starts.
  argv.back() = "--metrics-addr=localhost:9321";
  ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  const int usage = berthd_.Stop(0);
  EXPECT_TRUE(WIFEXITED(usage) && WEXITSTATUS(usage) == 2) << usage;
  EXPECT_THAT(berthd_.Log(), HasSubstr("--metrics-addr \"localhost:9321\": the host is not an IP"));
}

TEST_F(MetricsE2eTest, AnEmptyAddressServesNothing) {
  Write("web.yaml", Manifest("web", "busybox", kPolite));
  std::vector<std::string> argv = Flags();
  argv.push_back("--metrics-addr=");
  ASSERT_TRUE(berthd_.Start(argv, world_.dir() + "/berthd.log").ok());
  WaitStatus("default.web", berth::testing::IsRunning);
  EXPECT_FALSE(absl::StrContains(berthd_.Log(), "metrics and health on"));
}

}  // namespace
}  // namespace berth
