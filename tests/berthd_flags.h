// The berthd flags every end-to-end test shares, whatever else it gives.
#ifndef BERTH_TESTS_BERTHD_FLAGS_H_
#define BERTH_TESTS_BERTHD_FLAGS_H_

#include <string>
#include <vector>

#include "runtime/sys/process.h"
#include "tests/test_env.h"

namespace berth::testing {

// --cni-conf-dir naming an empty directory of `world`: berthd finds no CNI
// network, so no test adds a bridge, route or firewall rule to the
// machine's own network namespace (a node set up by hack/setup has one in
// /etc/cni/net.d). Network tests give a network of their own, inside a
// namespace they make (network_e2e_test.cc).
inline std::string NoCniFlag(const TestWorld& world) {
  runtime::MakeDirs(world.cni_conf_dir()).IgnoreError();
  return "--cni-conf-dir=" + world.cni_conf_dir();
}

// `world`'s directories (--state-dir, --run-dir, --cgroup-parent), the
// monitor this build made, metrics on a free port (many berthd run at once;
// metrics_default_port_e2e_test takes the default one) and NoCniFlag.
inline std::vector<std::string> BerthdTestFlags(const TestWorld& world) {
  return {"--state-dir=" + world.berth_state_dir(),
          "--run-dir=" + world.run_dir(),
          "--cgroup-parent=" + world.cgroup_parent(),
          "--monitor=" BERTH_MONITOR_PATH,
          "--metrics-addr=127.0.0.1:0",
          NoCniFlag(world)};
}

}  // namespace berth::testing

#endif  // BERTH_TESTS_BERTHD_FLAGS_H_
