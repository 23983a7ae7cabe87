// berth-bench-api: how long `berthctl get` takes on a node with N
// NodeContainers (default 1,000; the goal is under 50 ms), and the List
// call alone. berthd's read side is served as berthd serves it (ApiServer,
// BerthService, a NodeView filled as the reconciler fills it) on a unix
// socket in a temporary directory; berthctl is the real binary, run K times.
// Each is timed in wall time and in berthctl's own CPU time (user+system,
// from RUSAGE_CHILDREN): on a machine shared with other work the CPU time
// says what berthctl costs, the wall time what a user waits. The floor,
// measured in the same run: `berthctl version --client` (start-up only).
// Run as root (the socket is chowned as berthd does).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "controller/api/node_view.h"
#include "controller/api/server.h"
#include "controller/api/service.h"
#include "controller/api/testing/fake_backend.h"
#include "grpcpp/create_channel.h"
#include "runtime/sys/process.h"

ABSL_FLAG(int, n, 1000, "NodeContainers on the node");
ABSL_FLAG(int, runs, 20, "berthctl get runs");
ABSL_FLAG(std::string, berthctl, BERTH_BERTHCTL_PATH, "the berthctl binary");

namespace {

using namespace berth;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Max(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// The CPU time (user+system) of the children reaped so far, in ms.
double ChildrenCpuMs() {
  rusage u = {};
  getrusage(RUSAGE_CHILDREN, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

// Runs berthctl `runs` times; its wall and CPU times in ms.
bool Time(const std::vector<std::string>& argv, int runs, std::vector<double>* wall_ms,
          std::vector<double>* cpu_ms) {
  for (int i = 0; i < runs; ++i) {
    const double c0 = ChildrenCpuMs();
    const absl::Time t0 = absl::Now();
    absl::StatusOr<runtime::CommandResult> r = runtime::RunCommand(argv, absl::Seconds(30));
    wall_ms->push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    cpu_ms->push_back(ChildrenCpuMs() - c0);
    if (!r.ok() || r->exit_code != 0) {
      std::fprintf(stderr, "%s failed: %s\n", argv[1].c_str(),
                   r.ok() ? r->output.c_str() : r.status().ToString().c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_n);
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  char dir_template[] = "/tmp/berth-bench-api.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return 1;
  const std::string socket = std::string(dir) + "/berth.sock";

  api::NodeView view(controller::RealClock());
  api::testing::AddRunningContainers(view, n, absl::Now());
  api::testing::ReadOnlyBackend backend({"bench", "standalone", "bench"}, &view);
  api::BerthService service(&backend);
  api::ApiServer server(api::ServerOptions{socket}, &service);
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  // The List call alone, from a connected client.
  auto stub =
      v1::Berth::NewStub(grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  std::vector<double> list_ms;
  size_t bytes = 0;
  for (int i = 0; i < runs; ++i) {
    grpc::ClientContext context;
    v1::ListResponse response;
    const absl::Time t0 = absl::Now();
    grpc::Status s = stub->List(&context, v1::ListRequest(), &response);
    list_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!s.ok() || response.items_size() != n) {
      std::fprintf(stderr, "List: %s, %d items\n", s.error_message().c_str(),
                   response.items_size());
      return 1;
    }
    bytes = response.ByteSizeLong();
  }

  // The floor: berthctl started and done without a call (its own start-up,
  // dynamic linking and gRPC's initialisation), then berthctl get, the
  // whole process: start, connect, List, print the table. Interleaved, so
  // that both see the same load.
  std::vector<double> floor_ms, floor_cpu, get_ms, get_cpu;
  const std::string berthctl = absl::GetFlag(FLAGS_berthctl);
  for (int i = 0; i < runs; ++i) {
    if (!Time({berthctl, "version", "--client"}, 1, &floor_ms, &floor_cpu) ||
        !Time({berthctl, "--socket=" + socket, "get"}, 1, &get_ms, &get_cpu)) {
      return 1;
    }
  }
  server.Stop();
  rmdir(dir);
  std::printf("API read side, %d NodeContainers (%zu bytes per List), %d runs each:\n", n, bytes,
              runs);
  std::printf("  List call           median %6.2f ms   max %6.2f ms\n", Median(list_ms),
              Max(list_ms));
  std::printf(
      "  berthctl get        median %6.2f ms   min %6.2f ms   max %6.2f ms   CPU median %6.2f ms"
      "   (goal: under 50 ms)\n",
      Median(get_ms), *std::min_element(get_ms.begin(), get_ms.end()), Max(get_ms),
      Median(get_cpu));
  std::printf(
      "  berthctl --client   median %6.2f ms   min %6.2f ms   max %6.2f ms   CPU median %6.2f ms"
      "   (no call: the floor)\n",
      Median(floor_ms), *std::min_element(floor_ms.begin(), floor_ms.end()), Max(floor_ms),
      Median(floor_cpu));
  return 0;
}
