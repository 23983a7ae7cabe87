// berthd: keeps the NodeContainers meant for this node running: those of a
// manifests directory and, in cluster mode, those of the Kubernetes API.
#include <optional>
#include <utility>

#include "controller/berthd/daemon.h"
#include "controller/berthd/flags.h"
#include "controller/berthd/notify.h"

int main(int argc, char** argv) {
  // Before any child or thread: no monitor or runc may inherit NOTIFY_SOCKET.
  berth::controller::ServiceNotifier notifier =
      berth::controller::ServiceNotifier::FromEnvironment();
  std::optional<berth::berthd::Config> config = berth::berthd::ConfigFromCommandLine(argc, argv);
  if (!config.has_value()) return 2;  // logged
  return berth::berthd::Daemon(*std::move(config), std::move(notifier)).Run();
}
