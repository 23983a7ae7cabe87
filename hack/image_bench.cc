#include "hack/image_bench.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "controller/desired_state.h"
#include "hack/runc_floor.h"
#include "runtime/image/content_store.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"
#include "runtime/image/registry_image_store.h"
#include "runtime/sys/process.h"

namespace berth::bench {
namespace {

double Since(absl::Time begin) { return absl::ToDoubleSeconds(absl::Now() - begin); }

image::RegistryClientOptions Insecure(const std::string& registry) {
  image::RegistryClientOptions o;
  o.insecure_registries.insert(registry);
  return o;
}

// Puller::Pull of the image into an empty content store at `dir`; the
// seconds, with the record and the bytes of every blob it references.
absl::StatusOr<double> TimePull(const PullBenchOptions& o, const std::string& dir,
                                PullBenchResult* r) {
  if (absl::Status s = runtime::RemoveTree(dir); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<image::ContentStore>> store = image::ContentStore::Open(dir);
  if (!store.ok()) return store.status();
  image::RegistryClient client(Insecure(o.registry));
  image::Puller puller(store->get(), &client);
  const absl::Time begin = absl::Now();
  absl::StatusOr<image::ImageRecord> record = puller.Pull(o.reference);
  const double secs = Since(begin);
  if (!record.ok()) return record.status();
  r->layers = static_cast<int>(record->layers.size());
  r->bytes = 0;
  for (const std::string& d : image::ReferencedDigests(*record)) {
    absl::StatusOr<int64_t> size = (*store)->Size(d);
    if (!size.ok()) return size.status();
    r->bytes += *size;
  }
  return secs;
}

// RegistryImageStore::Resolve with kAlways on an empty root at `dir`: the
// pull and the unpacking of every layer.
absl::StatusOr<double> TimePullUnpack(const PullBenchOptions& o, const std::string& dir) {
  if (absl::Status s = runtime::RemoveTree(dir); !s.ok()) return s;
  image::RegistryImageStoreOptions so;
  so.root = dir;
  so.registry = Insecure(o.registry);
  absl::StatusOr<std::unique_ptr<image::RegistryImageStore>> store =
      image::RegistryImageStore::Open(so);
  if (!store.ok()) return store.status();
  const absl::Time begin = absl::Now();
  absl::StatusOr<image::ResolvedImage> image =
      (*store)->Resolve(o.reference, image::ImagePullPolicy::kAlways, {});
  const double secs = Since(begin);
  if (!image.ok()) return image.status();
  if (!image->pulled)
    return absl::InternalError(absl::StrCat("bench pull ", o.reference, ": not pulled"));
  return secs;
}

absl::StatusOr<double> TimeSkopeo(const PullBenchOptions& o, const std::string& dir) {
  if (absl::Status s = runtime::RemoveTree(dir); !s.ok()) return s;
  const absl::Time begin = absl::Now();
  absl::Status s = runtime::RunCommandOk({"/usr/bin/skopeo", "copy", "-q", "--src-tls-verify=false",
                                          "docker://" + o.reference, "dir:" + dir},
                                         absl::Minutes(10));
  if (!s.ok()) return s;
  return Since(begin);
}

// One container through Berth's path, image present: Resolve + spec +
// Create + Start timed, then Stop + Delete. Milliseconds.
absl::StatusOr<double> TimeBerthRun(const image::RegistryImageStore& images, runtime::Runtime* rt,
                                    const controller::NodeContainer& object) {
  const absl::Time begin = absl::Now();
  absl::StatusOr<image::ResolvedImage> image =
      images.Resolve(object.spec.image, image::ImagePullPolicy::kIfNotPresent, {});
  if (!image.ok()) return image.status();
  if (image->pulled)
    return absl::InternalError(absl::StrCat("run ", object.spec.image, ": pulled again"));
  absl::StatusOr<runtime::ContainerSpec> spec = controller::BuildContainerSpec(object, *image);
  if (!spec.ok()) return spec.status();
  if (absl::Status s = rt->Create(*spec); !s.ok()) return s;
  absl::Status started = rt->Start(spec->id);
  const double ms = Since(begin) * 1e3;
  absl::Status stopped = rt->Stop(spec->id, absl::ZeroDuration());
  absl::Status deleted = rt->Delete(spec->id);
  for (const absl::Status& s : {started, stopped, deleted}) {
    if (!s.ok()) return s;
  }
  return ms;
}

absl::StatusOr<double> TimeRawRun(const RuncFloor& floor, const std::string& id) {
  absl::StatusOr<absl::Duration> took = floor.RunOne(id);
  absl::Status removed = floor.KillDelete(id);
  if (!took.ok()) return took.status();
  if (!removed.ok()) return removed;
  return absl::ToDoubleMilliseconds(*took);
}

double Median(const std::vector<double>& v) { return Percentile(v, 50); }

}  // namespace

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

absl::StatusOr<PullBenchResult> BenchPull(const PullBenchOptions& o) {
  const std::string dir = o.work_dir + "/pull";
  absl::Cleanup remove = [&] { runtime::RemoveTree(dir).IgnoreError(); };
  PullBenchResult r;
  r.reference = o.reference;
  for (int i = 0; i < o.rounds; ++i) {
    PullRound round;
    absl::StatusOr<double> pull = TimePull(o, dir + "/store", &r);
    if (!pull.ok()) return pull.status();
    absl::StatusOr<double> pull_unpack = TimePullUnpack(o, dir + "/root");
    if (!pull_unpack.ok()) return pull_unpack.status();
    absl::StatusOr<double> skopeo = TimeSkopeo(o, dir + "/skopeo");
    if (!skopeo.ok()) return skopeo.status();
    r.rounds.push_back({*pull, *pull_unpack, *skopeo});
  }
  if (!o.keep_store.empty()) {
    if (absl::Status s = runtime::RemoveTree(o.keep_store); !s.ok()) return s;
    if (rename((dir + "/store").c_str(), o.keep_store.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("keep store at ", o.keep_store));
    }
  }
  return r;
}

absl::StatusOr<RunBenchResult> BenchTimeToRunning(const RunBenchOptions& o) {
  const std::string dir = o.work_dir + "/run";
  absl::Cleanup remove = [&] { runtime::RemoveTree(dir).IgnoreError(); };
  image::RegistryImageStoreOptions so;
  so.root = dir + "/images";
  so.registry = Insecure(o.registry);
  absl::StatusOr<std::unique_ptr<image::RegistryImageStore>> images =
      image::RegistryImageStore::Open(so);
  if (!images.ok()) return images.status();
  // Pulled and unpacked once, not timed.
  absl::StatusOr<image::ResolvedImage> image =
      (*images)->Resolve(o.reference, image::ImagePullPolicy::kIfNotPresent, {});
  if (!image.ok()) return image.status();
  if (image->layers.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bench time to running ", o.reference, ": has ",
                                                   image->layers.size(),
                                                   " layers; the raw floor needs one"));
  }
  controller::NodeContainer object;
  object.metadata.namespace_ = "bench";
  object.spec.image = o.reference;
  object.spec.command = {"/bin/sleep", "1000"};
  object.spec.stop_signal = SIGKILL;  // busybox sleep as PID 1 ignores SIGTERM
  object.metadata.name = "raw";
  absl::StatusOr<runtime::ContainerSpec> raw_spec = controller::BuildContainerSpec(object, *image);
  if (!raw_spec.ok()) return raw_spec.status();

  // The floor's bundle: a copy of the same layer with the mount points runc
  // needs (a read-only root of its own, as the layer is not to be written).
  const std::string raw_rootfs = dir + "/raw-rootfs";
  if (absl::Status s =
          runtime::RunCommandOk({"/bin/cp", "-a", image->layers[0], raw_rootfs}, absl::Minutes(5));
      !s.ok()) {
    return s;
  }
  for (const char* d : {"/proc", "/dev", "/sys"}) {
    if (absl::Status s = runtime::MakeDirs(raw_rootfs + d); !s.ok()) return s;
  }
  absl::StatusOr<RuncFloor> floor = RuncFloor::Prepare(dir + "/raw", *raw_spec, raw_rootfs);
  if (!floor.ok()) return floor.status();
  absl::StatusOr<std::unique_ptr<runtime::RuncRuntime>> rt = runtime::RuncRuntime::Open(o.runtime);
  if (!rt.ok()) return rt.status();

  RunBenchResult r;
  r.reference = o.reference;
  for (int i = 0; i < o.n; ++i) {
    absl::StatusOr<double> raw = TimeRawRun(*floor, absl::StrCat("raw-", getpid(), "-", i));
    if (!raw.ok()) return raw.status();
    object.metadata.name = absl::StrCat("ttr-", i);
    absl::StatusOr<double> berth = TimeBerthRun(**images, rt->get(), object);
    if (!berth.ok()) return berth.status();
    r.raw_ms.push_back(*raw);
    r.berth_ms.push_back(*berth);
  }
  if (absl::Status s = floor->Remove(); !s.ok()) return s;
  return r;
}

std::string FormatPull(const PullBenchResult& r) {
  std::vector<double> pull, unpack, skopeo;
  for (const PullRound& x : r.rounds) {
    pull.push_back(x.pull_s);
    unpack.push_back(x.pull_unpack_s);
    skopeo.push_back(x.skopeo_s);
  }
  const double mb = r.bytes / 1e6, floor = Median(skopeo);
  std::string out = absl::StrFormat(
      "pull %s: %.1f MB compressed in %d layers from docker-registry on 127.0.0.1,\n"
      "median of %zu rounds, each into empty directories (MB/s of the compressed size)\n"
      "  %-20s %8s %9s %13s\n",
      r.reference, mb, r.layers, r.rounds.size(), "", "time", "MB/s", "time/skopeo");
  auto line = [&](const char* name, double secs, const char* what) {
    absl::StrAppendFormat(&out, "  %-20s %6.2f s %9.1f %12.2fx  %s\n", name, secs, mb / secs,
                          secs / floor, what);
  };
  line("skopeo copy", floor,
       "docker:// to dir:, blobs fetched and verified, nothing unpacked (floor)");
  line("berth pull", Median(pull), "Puller: blobs fetched, verified, fsynced");
  line("berth pull+unpack", Median(unpack),
       "Resolve(Always) on an empty root: the pull + Prepare of every layer (ready to run)");
  return out;
}

std::string FormatRun(const RunBenchResult& r) {
  const double raw50 = Median(r.raw_ms), raw90 = Percentile(r.raw_ms, 90);
  const double b50 = Median(r.berth_ms), b90 = Percentile(r.berth_ms, 90);
  std::string out = absl::StrFormat(
      "time to running, %s already pulled and unpacked: N=%zu containers of /bin/sleep 1000\n"
      "  %-20s %9s %9s\n",
      r.reference, r.berth_ms.size(), "per container", "median", "p90");
  absl::StrAppendFormat(
      &out, "  %-20s %6.1f ms %6.1f ms  runc run -d on a bundle over a copy of the layer (floor)\n",
      "raw runc", raw50, raw90);
  absl::StrAppendFormat(
      &out,
      "  %-20s %6.1f ms %6.1f ms  Resolve(IfNotPresent) + BuildContainerSpec + Create + Start\n",
      "berth", b50, b90);
  absl::StrAppendFormat(&out, "  ratio berth/raw: %.2fx (median), %.2fx (p90)\n", b50 / raw50,
                        b90 / raw90);
  return out;
}

}  // namespace berth::bench
