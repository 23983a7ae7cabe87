// A TCP proxy on 127.0.0.1 in front of a test server (the registry) that can
// stall its connections: after `budget` bytes from the server on one
// connection it stops passing anything on, and holds the connection open,
// like a registry or a network that hangs in the middle of a download.
#ifndef BERTH_TESTS_STALLING_PROXY_H_
#define BERTH_TESTS_STALLING_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace berth::testing {

class StallingProxy {
 public:
  // Listens on a free port of 127.0.0.1 and forwards to 127.0.0.1:`target_port`.
  static absl::StatusOr<std::unique_ptr<StallingProxy>> Start(int target_port);
  // Closes every connection and joins the threads.
  ~StallingProxy();

  // "127.0.0.1:<port>".
  const std::string& host() const { return host_; }

  // Bytes from the server a connection opened from now on passes before it
  // stalls; negative: no limit.
  void set_budget(int64_t bytes) { budget_ = bytes; }
  // Connections that stalled so far.
  int stalled() const { return stalled_; }

 private:
  StallingProxy() = default;
  void Accept();
  void Pump(int client, int64_t budget);

  std::string host_;
  int target_port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> budget_{-1};
  std::atomic<int> stalled_{0};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::testing

#endif  // BERTH_TESTS_STALLING_PROXY_H_
