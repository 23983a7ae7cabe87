// berth-bench-stop: how late a stop lands, next to a stop done by hand with
// runc, measured in the same run with the two taking turns.
//   ignoring: busybox sleep as PID 1 ignores SIGTERM, so the stop waits the
//             grace period and kills: printed is the overshoot, the time
//             beyond the grace period.
//   prompt:   a shell that exits on SIGTERM: printed is the whole stop.
//   floor:    `runc kill TERM`, a pidfd wait of up to the grace period,
//             `runc kill KILL` and a wait if needed, `runc delete`
//             (RuncFloor::StopDelete).
//   layer:    RuncRuntime::Stop(id, grace) then Delete(id): until the
//             container, its monitor, cgroups, mounts and state are gone.
//   berthd:   the whole path a removed manifest takes: from the unlink of
//             the file to berthd's status file of the container gone (the
//             last step, after the runtime's Delete), with berthd's default
//             flags; next to the floor with the same grace period (1 s, a
//             terminationGracePeriodSeconds), the two taking turns.
// Prints the median and the range of --n stops of each.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "hack/runc_floor.h"
#include "nlohmann/json.hpp"
#include "runtime/runc_runtime.h"
#include "spdlog/spdlog.h"
#include "tests/processes.h"
#include "tests/test_env.h"

ABSL_FLAG(int, n, 10, "stops of each kind, for each side");
ABSL_FLAG(absl::Duration, grace, absl::Milliseconds(500), "grace period of the stops");
ABSL_FLAG(std::string, berthd, BERTH_BERTHD_PATH,
          "the berthd of the berthd part (e.g. an older build's)");
ABSL_FLAG(std::string, monitor, BERTH_MONITOR_PATH, "the berth-monitor that berthd runs");

namespace berth {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

struct Sample {
  std::vector<double> ms;
  void Add(absl::Duration d) { ms.push_back(Ms(d)); }
  double Median() const {
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    const size_t m = s.size() / 2;
    return s.size() % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  }
  double Min() const { return *std::min_element(ms.begin(), ms.end()); }
  double Max() const { return *std::max_element(ms.begin(), ms.end()); }
};

void Print(const char* what, const Sample& floor, const Sample& layer) {
  std::printf("%-32s %7.1f ms (%.1f-%.1f)   %7.1f ms (%.1f-%.1f)   %+6.1f ms\n", what,
              floor.Median(), floor.Min(), floor.Max(), layer.Median(), layer.Min(), layer.Max(),
              layer.Median() - floor.Median());
}

// The unlink of a manifest to the status file of its container gone, for
// each kind, with a berthd of default flags; each next to the floor.
int BerthdPart(const testing::TestWorld& world, const std::vector<struct Kind>& kinds, int n,
               std::vector<std::pair<Sample, Sample>>* results);

struct Kind {
  const char* name;
  std::vector<std::string> args;
  bool ignores_term;
};

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const int n = std::max(1, absl::GetFlag(FLAGS_n));
  const absl::Duration grace = absl::GetFlag(FLAGS_grace);
  testing::TestWorld world;
  const std::string rootfs = testing::BusyboxRootfs();
  auto rt = runtime::RuncRuntime::Open(world.RuntimeOptions());
  if (!rt.ok()) return std::fprintf(stderr, "bench: %s\n", rt.status().ToString().c_str()), 1;

  const Kind kinds[] = {
      {"ignoring SIGTERM: beyond grace", {"/bin/sleep", "1000"}, true},
      {"prompt exit on SIGTERM: whole",
       {"/bin/sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"},
       false},
  };
  int failures = 0;
  std::vector<std::pair<Sample, Sample>> results;
  std::vector<Sample> delete_parts;  // the layer's Delete alone
  for (const Kind& kind : kinds) {
    runtime::ContainerSpec spec;
    spec.rootfs_layers = {rootfs};
    spec.args = kind.args;
    spec.stop_signal = SIGTERM;
    spec.id = "raw";
    absl::StatusOr<bench::RuncFloor> floor = bench::RuncFloor::Prepare(
        world.dir() + "/raw-" + std::to_string(results.size()), spec, rootfs);
    if (!floor.ok())
      return std::fprintf(stderr, "bench: %s\n", floor.status().ToString().c_str()), 1;
    Sample raw, layer, deletes;
    const absl::Duration minus = kind.ignores_term ? grace : absl::ZeroDuration();
    for (int i = 0; i < n && failures == 0; ++i) {
      auto run_raw = [&] {
        const std::string id = absl::StrCat("raw-", getpid(), "-", i);
        absl::Status s = floor->RunOne(id).status();
        absl::SleepFor(absl::Milliseconds(100));  // the shell installs its trap
        absl::StatusOr<absl::Duration> d = s.ok() ? floor->StopDelete(id, SIGTERM, grace) : s;
        if (!d.ok()) {
          std::fprintf(stderr, "bench: raw %s\n", d.status().ToString().c_str());
          ++failures;
          return;
        }
        raw.Add(*d - minus);
      };
      auto run_layer = [&] {
        spec.id = absl::StrCat("layer-", i);
        absl::Status s = (*rt)->Create(spec);
        if (s.ok()) s = (*rt)->Start(spec.id);
        absl::SleepFor(absl::Milliseconds(100));
        const absl::Time begin = absl::Now();
        if (s.ok()) s = (*rt)->Stop(spec.id, grace);
        const absl::Time stopped = absl::Now();
        if (s.ok()) s = (*rt)->Delete(spec.id);
        if (!s.ok()) {
          std::fprintf(stderr, "bench: layer %s\n", s.ToString().c_str());
          (*rt)->Delete(spec.id).IgnoreError();
          ++failures;
          return;
        }
        layer.Add(absl::Now() - begin - minus);
        deletes.Add(absl::Now() - stopped);
      };
      if (i % 2 == 0) {
        run_raw();
        run_layer();
      } else {
        run_layer();
        run_raw();
      }
    }
    if (failures > 0) {
      floor->ForceRemove().IgnoreError();
      break;
    }
    floor->Remove().IgnoreError();
    results.emplace_back(std::move(raw), std::move(layer));
    delete_parts.push_back(std::move(deletes));
  }
  rt->reset();
  if (failures > 0) return 1;

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("berth-bench-stop: %d stops of each, grace %s, load average %.2f %.2f %.2f\n", n,
              absl::FormatDuration(grace).c_str(), load[0], load[1], load[2]);
  std::printf("%-32s %-27s %-27s %s\n", "median (range)", "raw runc kill+wait+delete",
              "berth Stop+Delete", "difference");
  for (size_t k = 0; k < results.size(); ++k) {
    Print(kinds[k].name, results[k].first, results[k].second);
    std::printf("  %-30s %35s %7.1f ms (%.1f-%.1f)\n", "of which berth Delete", "",
                delete_parts[k].Median(), delete_parts[k].Min(), delete_parts[k].Max());
  }
  std::vector<Kind> all(std::begin(kinds), std::end(kinds));
  std::vector<std::pair<Sample, Sample>> whole;
  if (BerthdPart(world, all, n, &whole) != 0) return 1;
  std::printf("%-32s %-27s %-27s %s\n", "berthd, grace 1s", "raw runc kill+wait+delete",
              "manifest unlink to gone", "difference");
  for (size_t k = 0; k < whole.size(); ++k) Print(kinds[k].name, whole[k].first, whole[k].second);
  std::vector<std::string> leaks = world.Leaks();
  for (const auto& l : leaks) std::printf("LEAK: %s\n", l.c_str());
  return leaks.empty() ? 0 : 1;
}

int BerthdPart(const testing::TestWorld& world, const std::vector<Kind>& kinds, int n,
               std::vector<std::pair<Sample, Sample>>* results) {
  const std::string manifests = world.dir() + "/manifests";
  const std::string image = world.dir() + "/images/busybox/latest";
  const std::string rootfs = testing::BusyboxRootfs();
  if (!runtime::MakeDirs(manifests).ok() || !runtime::MakeDirs(image).ok() ||
      symlink(rootfs.c_str(), (image + "/rootfs").c_str()) != 0) {
    std::fprintf(stderr, "bench: cannot prepare %s\n", world.dir().c_str());
    return 1;
  }
  // An empty --cni-conf-dir: the containers get no network, and the
  // machine's namespace no bridge or firewall rule (as in the tests).
  if (!runtime::MakeDirs(world.cni_conf_dir()).ok()) {
    std::fprintf(stderr, "bench: cannot make %s\n", world.cni_conf_dir().c_str());
    return 1;
  }
  testing::OwnedProcess berthd;
  absl::Status started = berthd.Start(
      {absl::GetFlag(FLAGS_berthd), "--manifests-dir=" + manifests,
       "--state-dir=" + world.berth_state_dir(), "--run-dir=" + world.run_dir(),
       "--images-dir=" + world.dir() + "/images", "--cgroup-parent=" + world.cgroup_parent(),
       "--monitor=" + absl::GetFlag(FLAGS_monitor), "--cni-conf-dir=" + world.cni_conf_dir()},
      world.dir() + "/berthd.log");
  if (!started.ok()) return std::fprintf(stderr, "bench: %s\n", started.ToString().c_str()), 1;
  const absl::Duration grace = absl::Seconds(1);
  const std::string status_dir = world.berth_state_dir() + "/status/";
  auto wait = [](auto done, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Microseconds(200));
    }
    return true;
  };
  int failures = 0;
  for (size_t k = 0; k < kinds.size() && failures == 0; ++k) {
    runtime::ContainerSpec spec;
    spec.rootfs_layers = {rootfs};
    spec.args = kinds[k].args;
    spec.id = "raw";
    absl::StatusOr<bench::RuncFloor> floor =
        bench::RuncFloor::Prepare(world.dir() + "/whole-raw-" + std::to_string(k), spec, rootfs);
    if (!floor.ok())
      return std::fprintf(stderr, "bench: %s\n", floor.status().ToString().c_str()), 1;
    Sample raw, whole;
    const absl::Duration minus = kinds[k].ignores_term ? grace : absl::ZeroDuration();
    for (int i = 0; i < n && failures == 0; ++i) {
      auto run_raw = [&] {
        const std::string id = absl::StrCat("whole-raw-", getpid(), "-", i);
        absl::Status s = floor->RunOne(id).status();
        absl::SleepFor(absl::Milliseconds(100));
        absl::StatusOr<absl::Duration> d = s.ok() ? floor->StopDelete(id, SIGTERM, grace) : s;
        if (!d.ok()) {
          std::fprintf(stderr, "bench: raw %s\n", d.status().ToString().c_str());
          ++failures;
          return;
        }
        raw.Add(*d - minus);
      };
      auto run_berthd = [&] {
        const std::string name = absl::StrCat("s", k, "-", i);
        const std::string file = manifests + "/" + name + ".yaml";
        const std::string status = status_dir + "default." + name + ".json";
        nlohmann::json command = kinds[k].args;
        absl::Status s = runtime::WriteFileAtomic(
            file, absl::StrCat("apiVersion: berth.dev/v1alpha1\nkind: NodeContainer\nmetadata:\n"
                               "  name: ",
                               name, "\nspec:\n  image: busybox\n  command: ", command.dump(),
                               "\n  terminationGracePeriodSeconds: 1\n"));
        const bool running =
            s.ok() && wait(
                          [&] {
                            absl::StatusOr<std::string> j = runtime::ReadFile(status);
                            return j.ok() && j->find("\"Running\"") != std::string::npos;
                          },
                          absl::Seconds(30));
        absl::SleepFor(absl::Milliseconds(100));
        const absl::Time begin = absl::Now();
        const bool gone =
            running && unlink(file.c_str()) == 0 &&
            wait([&] { return access(status.c_str(), F_OK) != 0; }, absl::Seconds(30));
        if (!gone) {
          std::fprintf(stderr, "bench: berthd did not run and remove %s (see %s/berthd.log)\n",
                       name.c_str(), world.dir().c_str());
          ++failures;
          return;
        }
        whole.Add(absl::Now() - begin - minus);
      };
      if (i % 2 == 0) {
        run_raw();
        run_berthd();
      } else {
        run_berthd();
        run_raw();
      }
    }
    if (failures > 0)
      floor->ForceRemove().IgnoreError();
    else
      floor->Remove().IgnoreError();
    results->emplace_back(std::move(raw), std::move(whole));
  }
  berthd.Stop(SIGTERM);
  return failures > 0 ? 1 : 0;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
