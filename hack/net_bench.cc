// berth-bench-net: a networked create+start (and stop+delete) of the runtime
// layer next to its floor, measured in the same run on the same rootfs and
// the same CNI network:
//   floor:  per container, a network namespace file (runtime/network/netns),
//           the network's CNI ADD with one published port, `runc run -d`
//           joining that namespace; later `runc kill KILL` + `runc delete`,
//           CNI DEL and the namespace's removal;
//   layer:  RuncRuntime Create+Start of a container with the same published
//           port; later Stop+Delete.
// The network is the default one (hack/cni/10-berth.conflist: bridge,
// host-local, portmap, firewall, loopback) with its own bridge name, subnet
// and IPAM directory. The process first moves into a network namespace of
// its own: the bridge, veths and iptables rules are made there only.
// N containers each, in batches the two take turns at (--rounds).
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "hack/bench_totals.h"
#include "hack/runc_floor.h"
#include "nlohmann/json.hpp"
#include "runtime/network/cni.h"
#include "runtime/network/cni_config.h"
#include "runtime/network/netns.h"
#include "runtime/runc_runtime.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"
#include "tests/test_env.h"

ABSL_FLAG(int, n, 50, "containers in all");
ABSL_FLAG(int, rounds, 10, "turns the floor and the layer take");

namespace berth {
namespace {

using bench::Batch;
using bench::Ms;
using bench::Totals;
namespace net = runtime::network;

constexpr int kFirstHostPort = 20000;

struct BenchFailure : std::runtime_error {
  explicit BenchFailure(const absl::Status& s) : std::runtime_error(s.ToString()) {}
};

void Check(const absl::Status& s) {
  if (!s.ok()) throw BenchFailure(s);
}

template <typename T>
T OrFail(absl::StatusOr<T> v) {
  Check(v.status());
  return *std::move(v);
}

// The default network with its own names: bridge berth-bench0, addresses
// from 10.86.0.0/16, allocations under `ipam_dir`.
std::string BenchConflist(const std::string& ipam_dir) {
  std::ifstream in(BERTH_SOURCE_DIR "/hack/cni/10-berth.conflist");
  nlohmann::json conf = nlohmann::json::parse(in);
  conf["name"] = "berth-bench";
  nlohmann::json& bridge = conf["plugins"][0];
  bridge["bridge"] = "berth-bench0";
  bridge["ipam"]["ranges"] = {{{{"subnet", "10.86.0.0/16"}, {"gateway", "10.86.0.1"}}}};
  bridge["ipam"]["dataDir"] = ipam_dir;
  return conf.dump(2);
}

// The floor's containers: what they joined and what DEL needs.
struct FloorContainer {
  net::CniAttachment attachment;
  nlohmann::json result;
};

int Main(int argc, char** argv) {
  // First, while this process has one thread.
  if (absl::Status s = net::EnterNewNetns(); !s.ok()) {
    std::fprintf(stderr, "bench: %s\n", s.ToString().c_str());
    return 1;
  }
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const int n = absl::GetFlag(FLAGS_n);
  const int rounds = std::max(1, std::min(n, absl::GetFlag(FLAGS_rounds)));
  testing::TestWorld world;
  const std::string rootfs = testing::BusyboxRootfs();
  const std::string ipam_dir = world.dir() + "/ipam";
  const std::string floor_netns_dir = world.dir() + "/floor-netns";
  Check(runtime::MakeDirs(world.cni_conf_dir()));
  Check(runtime::WriteFileAtomic(world.cni_conf_dir() + "/10-bench.conflist",
                                 BenchConflist(ipam_dir)));
  const std::optional<net::CniNetwork> network = OrFail(net::LoadNetwork(world.cni_conf_dir()));
  if (!network.has_value()) return std::fprintf(stderr, "bench: no network\n"), 1;
  runtime::RuncRuntimeOptions options = world.RuntimeOptions();
  const net::CniClient cni(net::CniOptions{options.cni_bin_dir});

  runtime::ContainerSpec spec;
  spec.id = "raw";
  spec.rootfs_layers = {rootfs};
  spec.args = {"/bin/sleep", "1000"};
  spec.stop_signal = SIGKILL;
  absl::StatusOr<bench::RuncFloor> floor =
      bench::RuncFloor::Prepare(world.dir() + "/raw", spec, rootfs);
  if (!floor.ok()) return std::fprintf(stderr, "bench: %s\n", floor.status().ToString().c_str()), 1;
  auto rt = runtime::RuncRuntime::Open(options);
  if (!rt.ok()) return std::fprintf(stderr, "bench: %s\n", rt.status().ToString().c_str()), 1;

  std::vector<FloorContainer> raw(n);
  Totals up, down;
  try {
    for (int r = 0, first = 0; r < rounds; first += Batch(n, rounds, r), ++r) {
      const int k = Batch(n, rounds, r);
      auto run_raw = [&] {
        absl::Duration took;
        for (int i = first; i < first + k; ++i) {
          const std::string id = absl::StrCat("raw-", getpid(), "-", i);
          const absl::Time t0 = absl::Now();
          FloorContainer& c = raw[i];
          c.attachment.container_id = id;
          c.attachment.netns = OrFail(net::CreateNetns(floor_netns_dir, id));
          c.attachment.ports = {{kFirstHostPort + i, 80, "tcp", ""}};
          c.result = OrFail(cni.Add(*network, c.attachment));
          took += absl::Now() - t0;
          took += OrFail(floor->RunOne(id, c.attachment.netns));  // its bundle written untimed
        }
        return took;
      };
      auto run_layer = [&] {
        const absl::Time begin = absl::Now();
        for (int i = first; i < first + k; ++i) {
          spec.id = absl::StrCat("layer-", i);
          spec.ports = {{kFirstHostPort + n + i, 80, "tcp", ""}};
          Check((*rt)->Create(spec));
          Check((*rt)->Start(spec.id));
        }
        return absl::Now() - begin;
      };
      up.Add(r, run_raw, run_layer);
    }
    // Both sides are on the network: an address each.
    const runtime::ContainerStatus st = OrFail((*rt)->State("layer-0"));
    if (st.ip.empty()) Check(absl::InternalError("layer-0 has no address"));
    if (net::PrimaryIp(raw[0].result, "eth0").value_or("").empty()) {
      Check(absl::InternalError("the floor's first container has no address"));
    }

    for (int r = 0, first = 0; r < rounds; first += Batch(n, rounds, r), ++r) {
      const int k = Batch(n, rounds, r);
      auto down_raw = [&] {
        const absl::Time begin = absl::Now();
        for (int i = first; i < first + k; ++i) {
          FloorContainer& c = raw[i];
          Check(floor->KillDelete(c.attachment.container_id));
          Check(cni.Del(*network, c.attachment, c.result));
          Check(net::RemoveNetns(c.attachment.netns));
        }
        return absl::Now() - begin;
      };
      auto down_layer = [&] {
        const absl::Time begin = absl::Now();
        for (int i = first; i < first + k; ++i) {
          const std::string id = absl::StrCat("layer-", i);
          Check((*rt)->Stop(id, absl::ZeroDuration()));
          Check((*rt)->Delete(id));
        }
        return absl::Now() - begin;
      };
      down.Add(r, down_raw, down_layer);
    }
  } catch (const BenchFailure& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    if (auto all = (*rt)->List(); all.ok()) {
      for (const auto& c : *all) (*rt)->Delete(c.id).IgnoreError();
    }
    rt->reset();
    floor->ForceRemove().IgnoreError();
    for (const FloorContainer& c : raw) {
      if (c.attachment.netns.empty()) continue;
      cni.Del(*network, c.attachment, c.result).IgnoreError();
      net::RemoveNetns(c.attachment.netns).IgnoreError();
    }
    return 1;
  }
  rt->reset();
  floor->Remove().IgnoreError();

  std::printf(
      "berth-bench-net: N=%d containers in %d interleaved rounds, busybox sleep, one "
      "published port each, network %s (bridge, host-local, portmap, firewall, loopback)\n",
      n, rounds, network->name.c_str());
  std::printf("%-22s %12s %12s %8s   %6s  %s\n", "per container", "netns+ADD+runc", "berth layer",
              "ratio", "median", "range of the rounds");
  up.Print("create+start", n);
  down.Print("stop+delete", n);
  std::vector<std::string> leaks = world.Leaks();
  auto ipam = runtime::RunCommand({"/bin/ls", "-A", ipam_dir + "/berth-bench"}, absl::Seconds(5));
  if (ipam.ok()) {
    for (absl::string_view f : absl::StrSplit(ipam->output, '\n', absl::SkipEmpty())) {
      if (f != "lock" && !absl::StartsWith(f, "last_reserved_ip")) {
        leaks.push_back(absl::StrCat("IP still allocated: ", f));
      }
    }
  }
  for (const std::string& f : net::ListNetns(floor_netns_dir)) leaks.push_back("floor netns " + f);
  for (const auto& l : leaks) std::printf("LEAK: %s\n", l.c_str());
  return leaks.empty() ? 0 : 1;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
