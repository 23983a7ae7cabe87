// The WorkQueue's metrics, through a recording provider and a FakeClock.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "controller/queue/clock.h"
#include "controller/queue/queue_metrics.h"
#include "controller/queue/work_queue.h"

namespace berth::controller {
namespace {

using ::testing::ElementsAre;

// Every value by "<metric>/<queue name>".
struct Recorded {
  absl::Mutex mu;
  std::map<std::string, double> values;
  std::map<std::string, std::vector<double>> observations;
  std::map<std::string, std::function<QueueInProgress()>> in_progress;
};

class RecordingGauge : public QueueGauge {
 public:
  RecordingGauge(Recorded* r, std::string key) : r_(r), key_(std::move(key)) {}
  void Inc() override {
    absl::MutexLock l(&r_->mu);
    ++r_->values[key_];
  }
  void Dec() override {
    absl::MutexLock l(&r_->mu);
    --r_->values[key_];
  }

 private:
  Recorded* r_;
  std::string key_;
};

class RecordingCounter : public QueueCounter {
 public:
  RecordingCounter(Recorded* r, std::string key) : r_(r), key_(std::move(key)) {}
  void Inc() override {
    absl::MutexLock l(&r_->mu);
    ++r_->values[key_];
  }

 private:
  Recorded* r_;
  std::string key_;
};

class RecordingHistogram : public QueueHistogram {
 public:
  RecordingHistogram(Recorded* r, std::string key) : r_(r), key_(std::move(key)) {}
  void Observe(double v) override {
    absl::MutexLock l(&r_->mu);
    r_->observations[key_].push_back(v);
  }

 private:
  Recorded* r_;
  std::string key_;
};

class Registration : public QueueMetricRegistration {
 public:
  Registration(Recorded* r, std::string key) : r_(r), key_(std::move(key)) {}
  ~Registration() override {
    absl::MutexLock l(&r_->mu);
    r_->in_progress.erase(key_);
  }

 private:
  Recorded* r_;
  std::string key_;
};

class RecordingProvider : public QueueMetricsProvider {
 public:
  std::unique_ptr<QueueGauge> NewDepthMetric(const std::string& n) override {
    return std::make_unique<RecordingGauge>(&r, "depth/" + n);
  }
  std::unique_ptr<QueueCounter> NewAddsMetric(const std::string& n) override {
    return std::make_unique<RecordingCounter>(&r, "adds/" + n);
  }
  std::unique_ptr<QueueHistogram> NewLatencyMetric(const std::string& n) override {
    return std::make_unique<RecordingHistogram>(&r, "latency/" + n);
  }
  std::unique_ptr<QueueHistogram> NewWorkDurationMetric(const std::string& n) override {
    return std::make_unique<RecordingHistogram>(&r, "work/" + n);
  }
  std::unique_ptr<QueueCounter> NewRetriesMetric(const std::string& n) override {
    return std::make_unique<RecordingCounter>(&r, "retries/" + n);
  }
  std::unique_ptr<QueueMetricRegistration> NewInProgressMetric(
      const std::string& n, std::function<QueueInProgress()> read) override {
    absl::MutexLock l(&r.mu);
    r.in_progress[n] = std::move(read);
    return std::make_unique<Registration>(&r, n);
  }

  double Value(const std::string& key) {
    absl::MutexLock l(&r.mu);
    return r.values[key];
  }
  std::vector<double> Observed(const std::string& key) {
    absl::MutexLock l(&r.mu);
    return r.observations[key];
  }
  QueueInProgress InProgress(const std::string& name) {
    std::function<QueueInProgress()> read;
    {
      absl::MutexLock l(&r.mu);
      read = r.in_progress.at(name);
    }
    return read();
  }

  Recorded r;
};

TEST(QueueMetricsTest, CountsAddsDepthLatencyAndWork) {
  FakeClock clock;
  RecordingProvider p;
  WorkQueue::Options o;
  o.metrics = &p;
  o.name = "containers";
  WorkQueue q(clock, o);

  q.Add("a");
  q.Add("a");  // merged: not an add
  clock.Advance(absl::Seconds(2));
  q.Add("b");
  EXPECT_EQ(p.Value("adds/containers"), 2);
  EXPECT_EQ(p.Value("depth/containers"), 2);

  clock.Advance(absl::Seconds(1));
  ASSERT_EQ(q.Get(), "a");
  EXPECT_EQ(p.Value("depth/containers"), 1);
  EXPECT_THAT(p.Observed("latency/containers"), ElementsAre(3.0));

  // Added again while processing: dirty, counted in the depth, re-queued by
  // Done without another add.
  q.Add("a");
  EXPECT_EQ(p.Value("depth/containers"), 2);
  clock.Advance(absl::Seconds(4));
  QueueInProgress ip = p.InProgress("containers");
  EXPECT_DOUBLE_EQ(ip.unfinished_work_seconds, 4);
  EXPECT_DOUBLE_EQ(ip.longest_running_processor_seconds, 4);

  ASSERT_EQ(q.Get(), "b");
  clock.Advance(absl::Seconds(1));
  ip = p.InProgress("containers");
  EXPECT_DOUBLE_EQ(ip.unfinished_work_seconds, 5 + 1);
  EXPECT_DOUBLE_EQ(ip.longest_running_processor_seconds, 5);

  q.Done("a");
  EXPECT_THAT(p.Observed("work/containers"), ElementsAre(5.0));
  EXPECT_EQ(p.Value("depth/containers"), 1);  // "a" again
  ASSERT_EQ(q.Get(), "a");
  EXPECT_THAT(p.Observed("latency/containers"), ElementsAre(3.0, 5.0, 5.0));
  EXPECT_EQ(p.Value("depth/containers"), 0);
  q.Done("a");
  q.Done("b");
  ip = p.InProgress("containers");
  EXPECT_EQ(ip.unfinished_work_seconds, 0);
  EXPECT_EQ(ip.longest_running_processor_seconds, 0);
}

TEST(QueueMetricsTest, CountsRetriesAndUnregistersWhenDestroyed) {
  FakeClock clock;
  RecordingProvider p;
  {
    WorkQueue::Options o;
    o.metrics = &p;
    o.name = "q";
    WorkQueue q(clock, o);
    q.AddRateLimited("x");
    q.AddRateLimited("x");
    EXPECT_EQ(p.Value("retries/q"), 2);
    EXPECT_EQ(p.Value("adds/q"), 0);  // still waiting
    absl::MutexLock l(&p.r.mu);
    EXPECT_EQ(p.r.in_progress.count("q"), 1u);
  }
  absl::MutexLock l(&p.r.mu);
  EXPECT_EQ(p.r.in_progress.count("q"), 0u);
}

TEST(QueueMetricsTest, NoProviderIsFine) {
  FakeClock clock;
  WorkQueue q(clock);
  q.Add("a");
  ASSERT_EQ(q.Get(), "a");
  q.Done("a");
  EXPECT_EQ(q.InProgress().longest_running_processor_seconds, 0);
}

}  // namespace
}  // namespace berth::controller
