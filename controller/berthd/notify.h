// Tells the service manager that started berthd (systemd, Type=notify) how
// it is doing: READY=1, STOPPING=1 and STATUS=... by the sd_notify protocol
// (sd_notify(3): one datagram of newline-separated KEY=value lines to the
// unix socket named by $NOTIFY_SOCKET, a path or "@name" for an abstract
// socket). Without $NOTIFY_SOCKET nothing is sent.
//
// Why not libsystemd's sd_notify(): it reads $NOTIFY_SOCKET from the
// environment at every call, so the variable would have to stay set, and
// every berth-monitor and runc that berthd starts would inherit it; runc then
// bind-mounts the socket's directory into each container at /run/notify and
// sets NOTIFY_SOCKET in the container's environment. ServiceNotifier takes
// the variable out of the environment once, before any child exists, and
// keeps the address itself.
#ifndef BERTH_CONTROLLER_BERTHD_NOTIFY_H_
#define BERTH_CONTROLLER_BERTHD_NOTIFY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::controller {

class ServiceNotifier {
 public:
  // The service manager's socket from $NOTIFY_SOCKET, which is then removed
  // from the environment. Call before any thread or child process starts
  // (setenv and unsetenv are not thread-safe).
  static ServiceNotifier FromEnvironment();
  // Sends to `address` ("/path" or "@abstract"); empty: sends nothing.
  explicit ServiceNotifier(std::string address) : address_(std::move(address)) {}

  bool enabled() const { return !address_.empty(); }
  const std::string& address() const { return address_; }

  // READY=1: start-up is complete (systemd's start job ends here).
  absl::Status Ready(absl::string_view status) const;
  // STOPPING=1: shutting down (systemd shows "deactivating").
  absl::Status Stopping(absl::string_view status) const;
  // A new STATUS= line alone (systemctl status shows the last one).
  absl::Status Status(absl::string_view status) const;

  // One datagram of KEY=value lines, as given. OK without sending anything
  // when not enabled.
  absl::Status Send(absl::string_view message) const;

 private:
  std::string address_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_BERTHD_NOTIFY_H_
