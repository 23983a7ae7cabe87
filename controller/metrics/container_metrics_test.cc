// ContainerMetrics over a cgroup tree in a temporary directory (the real
// layout is covered by runtime's cgroup_stats_test and the e2e tests).
#include "controller/metrics/container_metrics.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/metrics/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

void Write(const std::string& path, const std::string& content) {
  ASSERT_TRUE(runtime::MakeDirs(path.substr(0, path.rfind('/')), 0755).ok());
  std::ofstream(path) << content;
}

controller::ContainerReport Report(const std::string& name, const std::string& phase, int restarts,
                                   bool observed = true) {
  controller::ContainerReport r;
  r.id = "default." + name;
  r.namespace_ = "default";
  r.name = name;
  r.phase = phase;
  if (observed) r.container_id = r.id;
  r.restart_count = restarts;
  return r;
}

class ContainerMetricsTest : public ::testing::Test {
 protected:
  ContainerMetricsTest() {
    layout_.cpu = dir_.path() + "/cpu,cpuacct";
    layout_.memory = dir_.path() + "/memory";
  }
  void Cgroup(const std::string& id, uint64_t cpu_ns, uint64_t usage, uint64_t inactive) {
    Write(absl::StrCat(layout_.cpu, "/berth/", id, "/cpuacct.usage"), absl::StrCat(cpu_ns, "\n"));
    Write(absl::StrCat(layout_.memory, "/berth/", id, "/memory.usage_in_bytes"),
          absl::StrCat(usage, "\n"));
    Write(absl::StrCat(layout_.memory, "/berth/", id, "/memory.stat"),
          absl::StrCat("cache 0\ntotal_inactive_file ", inactive, "\n"));
  }

  berth::testing::TempDir dir_;
  runtime::CgroupLayout layout_;
};

// A ContainerMetrics over the test's cgroups (/berth/<id>), reading them
// every `refresh`, registered with a Metrics of its own while it lives.
struct Collected {
  Collected(const runtime::CgroupLayout& layout, absl::Duration refresh)
      : collector([](const std::string& id) { return "/berth/" + id; }, layout, refresh) {
    metrics.AddCollector(&collector);
  }
  ~Collected() { metrics.RemoveCollector(&collector); }

  ContainerMetrics collector;
  Metrics metrics;
};

TEST_F(ContainerMetricsTest, PhasesRestartsAndCgroupStats) {
  ContainerMetrics c([](const std::string& id) { return "/berth/" + id; }, layout_);
  Metrics m;
  m.AddCollector(&c);
  Cgroup("default.web", 1500000000, 8 << 20, 1 << 20);
  Cgroup("default.crashy", 1, 1, 0);
  c.Report(Report("web", "Running", 0));
  c.Report(Report("crashy", "CrashLoopBackOff", 4));
  c.Report(Report("bad", "Error", 0, false));
  c.Report(Report("gone", "Running", 0));  // no cgroup: no stats

  std::string text = m.Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE berth_containers gauge\n"));
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"Running\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"CrashLoopBackOff\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"Error\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"Pending\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"Succeeded\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE berth_container_restarts_total counter\n"));
  EXPECT_THAT(
      text, HasSubstr("berth_container_restarts_total{name=\"crashy\",namespace=\"default\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE container_cpu_usage_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("container_cpu_usage_seconds_total{container=\"web\",id=\"/berth/"
                              "default.web\",name=\"web\",namespace=\"default\"} 1.5\n"));
  EXPECT_THAT(text, HasSubstr("container_memory_working_set_bytes{container=\"web\",id=\"/berth/"
                              "default.web\",name=\"web\",namespace=\"default\"} 7340032\n"));
  // Only Running containers are read.
  EXPECT_THAT(text, Not(HasSubstr("container_cpu_usage_seconds_total{container=\"crashy\"")));
  EXPECT_THAT(text, Not(HasSubstr("container=\"gone\"")));

  c.Remove("default.web");
  c.Report(Report("crashy", "Running", 5));
  text = m.Scrape();
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"Running\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"CrashLoopBackOff\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("name=\"web\"")));
  EXPECT_THAT(text, HasSubstr("container_cpu_usage_seconds_total{container=\"crashy\""));
  m.RemoveCollector(&c);
}

// A scrape serves the values the background reads last found; a container
// that has started running since is read at the scrape; the background
// reads bring the new values every `refresh`.
TEST_F(ContainerMetricsTest, ServesTheBackgroundReadsValues) {
  const std::string web_cpu =
      "container_cpu_usage_seconds_total{container=\"web\",id=\"/berth/default.web\",name=\"web\","
      "namespace=\"default\"} ";
  Cgroup("default.web", 1500000000, 8 << 20, 1 << 20);
  // web reported Running to a new collector is read at the first scrape.
  auto web_running = [&](absl::Duration refresh, const std::string& cpu) {
    auto c = std::make_unique<Collected>(layout_, refresh);
    c->collector.Report(Report("web", "Running", 0));
    EXPECT_THAT(c->metrics.Scrape(), HasSubstr(web_cpu + cpu + "\n"));
    return c;
  };
  {
    // Nothing reads again within the hour.
    std::unique_ptr<Collected> c = web_running(absl::Hours(1), "1.5");
    Cgroup("default.web", 3000000000, 8 << 20, 1 << 20);
    Cgroup("default.api", 2000000000, 8 << 20, 1 << 20);
    c->collector.Report(Report("api", "Running", 0));
    const std::string text = c->metrics.Scrape();
    EXPECT_THAT(text, HasSubstr(web_cpu + "1.5\n"));  // as last read
    EXPECT_THAT(text, HasSubstr("container_cpu_usage_seconds_total{container=\"api\",id=\"/berth/"
                                "default.api\",name=\"api\",namespace=\"default\"} 2\n"));
  }
  // Read every 20 ms: the new value comes without a scrape reading it.
  std::unique_ptr<Collected> c = web_running(absl::Milliseconds(20), "3");
  Cgroup("default.web", 4500000000, 8 << 20, 1 << 20);
  std::string text;
  for (int i = 0; i < 500; ++i) {  // up to 10 s
    text = c->metrics.Scrape();
    if (text.find(web_cpu + "4.5\n") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(text, HasSubstr(web_cpu + "4.5\n"));
}

// The scrape of 1,000 running containers from files on tmpfs: what berthd
// adds to the kernel's cgroup reads (hack/metrics_bench.cc measures those)
// takes a few ms; the bound is loose for a loaded machine and catches work
// that grows faster than the containers (or a runtime call per container).
TEST_F(ContainerMetricsTest, AThousandContainersScrapeQuickly) {
  ContainerMetrics c([](const std::string& id) { return "/berth/" + id; }, layout_);
  Metrics m;
  m.AddCollector(&c);
  for (int i = 0; i < 1000; ++i) {
    const std::string name = absl::StrCat("c", i);
    Cgroup("default." + name, 1000000 * i, 1 << 20, 0);
    c.Report(Report(name, "Running", i % 3));
  }
  m.Scrape();  // warm
  const auto began = std::chrono::steady_clock::now();
  const std::string text = m.Scrape();
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_THAT(text, HasSubstr("berth_containers{phase=\"Running\"} 1000\n"));
  EXPECT_THAT(text, HasSubstr("container=\"c999\""));
  EXPECT_LT(took, std::chrono::milliseconds(250))
      << "a 1,000-container scrape took " << std::chrono::duration<double>(took).count();
  m.RemoveCollector(&c);
}

}  // namespace
}  // namespace berth::metrics
