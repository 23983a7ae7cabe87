// What Berth reports about each NodeContainer, and where it goes. In
// standalone mode a file per container; in cluster mode the API's status.
#ifndef BERTH_CONTROLLER_STATUS_H_
#define BERTH_CONTROLLER_STATUS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "runtime/container_spec.h"

namespace berth::controller {

struct ContainerReport {
  std::string id;
  std::string namespace_;
  std::string name;
  // Pending, Running, Succeeded, Failed, CrashLoopBackOff, Error.
  std::string phase;
  std::string container_id;
  std::string image;     // as the spec names it
  std::string image_id;  // what it resolved to (a manifest digest)
  int pid = 0;
  absl::Time created_at = absl::InfinitePast();  // of the runtime container
  absl::Time started_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  std::optional<int> exit_code;
  std::string reason;
  int restart_count = 0;
  std::optional<int> last_exit_code;  // of the container before the last restart
  std::string last_exit_reason;
  std::string last_error;
  int64_t observed_generation = 0;
  std::string message;
  // The container's address on the CNI network; empty on the host network
  // or without a network.
  std::string ip;
  // Whether the container is ready (running, past its startup probe, and
  // its readiness probe succeeding, if it has them); nullopt: not said
  // (then running means ready).
  std::optional<bool> ready;
};

// Sets what the runtime knows of a container in `report`: its id, pid,
// times, exit code, reason and IP address, and from its annotations (decoded by
// ContainerAnnotations) the image digest, restart count and last state.
// The rest (namespace, name, phase, image, generation) is the caller's.
void SetObserved(const runtime::ContainerStatus& observed, ContainerReport* report);

// The CRD's status shape (camelCase, RFC 3339 times, absent when unset).
nlohmann::json ReportToJson(const ContainerReport& report);

class StatusSink {
 public:
  virtual ~StatusSink() = default;
  virtual void Report(const ContainerReport& report) = 0;
  virtual void Remove(const std::string& id) = 0;
};

// <dir>/<id>.json, written atomically and only when it changed.
class FileStatusSink : public StatusSink {
 public:
  explicit FileStatusSink(std::string dir);
  void Report(const ContainerReport& report) override;
  void Remove(const std::string& id) override;
  // Ids of the status files in the directory.
  std::vector<std::string> Ids() const;

 private:
  std::string dir_;
  absl::Mutex mu_;
  std::map<std::string, std::string> last_ ABSL_GUARDED_BY(mu_);
};

// Passes every report to each of several sinks (status files and the API).
class FanOutStatusSink : public StatusSink {
 public:
  explicit FanOutStatusSink(std::vector<StatusSink*> sinks) : sinks_(std::move(sinks)) {}
  void Report(const ContainerReport& report) override {
    for (StatusSink* s : sinks_) s->Report(report);
  }
  void Remove(const std::string& id) override {
    for (StatusSink* s : sinks_) s->Remove(id);
  }

 private:
  std::vector<StatusSink*> sinks_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_STATUS_H_
