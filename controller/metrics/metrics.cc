#include "controller/metrics/metrics.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "prometheus/gauge.h"
#include "prometheus/metric_family.h"

namespace berth::metrics {

std::string StatusLabel(const absl::Status& status) {
  std::string s = absl::StatusCodeToString(status.code());
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

namespace {

constexpr char kCompiler[] =
#if defined(__clang__)
    "clang " __clang_version__;
#elif defined(__GNUC__)
    "gcc " __VERSION__;
#else
    "unknown";
#endif

// The Prometheus text format (0.0.4), written as prometheus-cpp's
// TextSerializer writes it (values with 16 significant digits, "Nan",
// "+Inf", "-Inf"; label values escaped), into one string: its ostream, a
// few calls per token, was most of a 1,000-container scrape.
class TextWriter {
 public:
  explicit TextWriter(std::string* out) : out_(*out) {}

  void Family(const prometheus::MetricFamily& f) {
    if (!f.help.empty()) absl::StrAppend(&out_, "# HELP ", f.name, " ", f.help, "\n");
    absl::StrAppend(&out_, "# TYPE ", f.name, " ", TypeName(f.type), "\n");
    for (const prometheus::ClientMetric& m : f.metric) Metric(f, m);
  }

 private:
  static const char* TypeName(prometheus::MetricType type) {
    switch (type) {
      case prometheus::MetricType::Counter: return "counter";
      case prometheus::MetricType::Gauge: return "gauge";
      case prometheus::MetricType::Summary: return "summary";
      case prometheus::MetricType::Histogram: return "histogram";
      default: return "untyped";
    }
  }

  void Metric(const prometheus::MetricFamily& f, const prometheus::ClientMetric& m) {
    using prometheus::MetricType;
    switch (f.type) {
      case MetricType::Counter: return Sample(f, m, "", nullptr, m.counter.value);
      case MetricType::Gauge: return Sample(f, m, "", nullptr, m.gauge.value);
      case MetricType::Untyped: return Sample(f, m, "", nullptr, m.untyped.value);
      case MetricType::Summary:
        Head(f, m, "_count", nullptr);
        Tail(m, m.summary.sample_count);
        Sample(f, m, "_sum", nullptr, m.summary.sample_sum);
        for (const auto& q : m.summary.quantile) {
          const std::string quantile = Number(q.quantile);
          Head(f, m, "", "quantile", quantile);
          Value(q.value);
          Tail(m);
        }
        return;
      case MetricType::Histogram: {
        const auto& h = m.histogram;
        Head(f, m, "_count", nullptr);
        Tail(m, h.sample_count);
        Sample(f, m, "_sum", nullptr, h.sample_sum);
        double last = -std::numeric_limits<double>::infinity();
        for (const auto& b : h.bucket) {
          Head(f, m, "_bucket", "le", Number(b.upper_bound));
          last = b.upper_bound;
          Tail(m, b.cumulative_count);
        }
        if (last != std::numeric_limits<double>::infinity()) {
          Head(f, m, "_bucket", "le", "+Inf");
          Tail(m, h.sample_count);
        }
        return;
      }
      default: return;
    }
  }

  void Sample(const prometheus::MetricFamily& f, const prometheus::ClientMetric& m,
              const char* suffix, const char* extra_name, double value) {
    Head(f, m, suffix, extra_name);
    Value(value);
    Tail(m);
  }

  // "<name><suffix>{<labels>[,<extra_name>="<extra_value>"]} "
  void Head(const prometheus::MetricFamily& f, const prometheus::ClientMetric& m,
            const char* suffix, const char* extra_name, absl::string_view extra_value = {}) {
    absl::StrAppend(&out_, f.name, suffix);
    if (!m.label.empty() || extra_name != nullptr) {
      char prefix = '{';
      for (const auto& l : m.label) {
        out_ += prefix;
        Label(l.name, l.value);
        prefix = ',';
      }
      if (extra_name != nullptr) {
        out_ += prefix;
        Label(extra_name, extra_value);
      }
      out_ += '}';
    }
    out_ += ' ';
  }

  void Label(absl::string_view name, absl::string_view value) {
    absl::StrAppend(&out_, name, "=\"");
    for (char c : value) {
      if (c == '\\' || c == '"') {
        out_ += '\\';
        out_ += c;
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }

  static std::string Number(double value) {
    if (std::isnan(value)) return "Nan";
    if (std::isinf(value)) return value < 0 ? "-Inf" : "+Inf";
    char buf[64];
    const std::to_chars_result r =
        std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 16);
    return std::string(buf, r.ptr);
  }

  void Value(double value) {
    if (std::isnan(value) || std::isinf(value)) {
      out_ += Number(value);
      return;
    }
    char buf[64];
    const std::to_chars_result r =
        std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 16);
    out_.append(buf, r.ptr);
  }

  void Tail(const prometheus::ClientMetric& m, uint64_t count) {
    absl::StrAppend(&out_, count);
    Tail(m);
  }
  void Tail(const prometheus::ClientMetric& m) {
    if (m.timestamp_ms != 0) absl::StrAppend(&out_, " ", m.timestamp_ms);
    out_ += '\n';
  }

  std::string& out_;
};

}  // namespace

Metrics::Metrics(const BuildInfo& build) : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  reconcile_duration_ = &prometheus::BuildHistogram()
                             .Name("berth_reconcile_duration_seconds")
                             .Help("Time one reconcile of a container took, in seconds")
                             .Register(r)
                             .Add({}, kReconcileBuckets);
  reconcile_errors_ = &prometheus::BuildCounter()
                           .Name("berth_reconcile_errors_total")
                           .Help("Reconciles that failed, by the error's status code")
                           .Register(r);
  auto& operations =
      prometheus::BuildHistogram()
          .Name("berth_runtime_operation_duration_seconds")
          .Help("Time the runtime took to create, start, stop or delete a container, in seconds")
          .Register(r);
  const char* names[] = {"create", "start", "stop", "delete"};
  for (int i = 0; i < 4; ++i) {
    runtime_operation_[i] = &operations.Add({{"operation", names[i]}}, kRuntimeOperationBuckets);
  }
  image_pull_duration_ = &prometheus::BuildHistogram()
                              .Name("berth_image_pull_duration_seconds")
                              .Help("Time a pull of an image from a registry took, in seconds")
                              .Register(r)
                              .Add({}, kImagePullBuckets);
  image_pulls_ = &prometheus::BuildCounter()
                      .Name("berth_image_pulls_total")
                      .Help("Pulls of images from registries, by result")
                      .Register(r);
  prometheus::BuildGauge()
      .Name("berth_build_info")
      .Help("Always 1; the labels name the build of berthd")
      .Register(r)
      .Add({{"version", build.version}, {"revision", build.revision}, {"compiler", kCompiler}})
      .Set(1);
}

void Metrics::ObserveReconcile(absl::Duration took, const absl::Status& status) {
  reconcile_duration_->Observe(absl::ToDoubleSeconds(took));
  if (!status.ok()) reconcile_errors_->Add({{"reason", StatusLabel(status)}}).Increment();
}

void Metrics::ObserveRuntimeOperation(RuntimeOperation op, absl::Duration took) {
  runtime_operation_[static_cast<int>(op)]->Observe(absl::ToDoubleSeconds(took));
}

void Metrics::ObserveImagePull(absl::Duration took, const absl::Status& status) {
  image_pull_duration_->Observe(absl::ToDoubleSeconds(took));
  image_pulls_->Add({{"result", status.ok() ? "success" : StatusLabel(status)}}).Increment();
}

void Metrics::AddCollector(const prometheus::Collectable* collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(collector);
}

void Metrics::RemoveCollector(const prometheus::Collectable* collector) {
  absl::MutexLock lock(&mu_);
  collectors_.erase(std::remove(collectors_.begin(), collectors_.end(), collector),
                    collectors_.end());
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    absl::MutexLock lock(&mu_);
    for (const prometheus::Collectable* c : collectors_) {
      std::vector<prometheus::MetricFamily> more = c->Collect();
      std::move(more.begin(), more.end(), std::back_inserter(families));
    }
  }
  // A family with no series (no errors yet) says nothing.
  families.erase(std::remove_if(families.begin(), families.end(),
                                [](const prometheus::MetricFamily& f) { return f.metric.empty(); }),
                 families.end());
  std::string out;
  out.reserve(last_size_.load(std::memory_order_relaxed) + 4096);
  TextWriter writer(&out);
  for (const prometheus::MetricFamily& f : families) writer.Family(f);
  last_size_.store(out.size(), std::memory_order_relaxed);
  return out;
}

}  // namespace berth::metrics
