// berth-bench-pull: pull throughput of the image layer next to skopeo on
// the same image, registry and run. Starts a docker-registry on 127.0.0.1,
// pushes the ~100 MB multi-layer test image big:1 (hack/make-test-images
// --big), then per round: Puller::Pull into an empty store, and `skopeo copy
// docker://... dir:...`. Prints MB/s (blob bytes / wall time, median of the
// rounds) and the ratio.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/image/content_store.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"
#include "runtime/sys/process.h"
#include "spdlog/spdlog.h"
#include "tests/registry_env.h"

ABSL_FLAG(int, rounds, 3, "rounds of each (the median is reported)");
ABSL_FLAG(std::string, keep_store, "",
          "leave the last round's store here (for later steps, e.g. unpacking)");

namespace berth {
namespace {

struct PullResult {
  image::ImageRecord record;
  int64_t bytes = 0;  // all blobs fetched
  double seconds = 0;
};

// Pulls `ref` from the loopback registry into an empty store at `store_dir`.
absl::StatusOr<PullResult> MeasurePull(const testing::RegistryEnv& env, const std::string& ref,
                                       const std::string& store_dir) {
  if (absl::Status s = runtime::RemoveTree(store_dir); !s.ok()) return s;
  auto store = image::ContentStore::Open(store_dir);
  if (!store.ok()) return store.status();
  image::RegistryClientOptions o;
  o.insecure_registries.insert(env.host());
  image::RegistryClient client(o);
  image::Puller puller(store->get(), &client);
  const absl::Time begin = absl::Now();
  auto r = puller.Pull(ref);
  const double secs = absl::ToDoubleSeconds(absl::Now() - begin);
  if (!r.ok()) return r.status();
  PullResult out{*r, 0, secs};
  for (const std::string& d : image::ReferencedDigests(*r)) out.bytes += *(*store)->Size(d);
  return out;
}

absl::StatusOr<double> MeasureSkopeo(const testing::RegistryEnv& env, const std::string& ref,
                                     const std::string& dir) {
  if (absl::Status s = runtime::RemoveTree(dir); !s.ok()) return s;
  const absl::Time begin = absl::Now();
  absl::Status s = runtime::RunCommandOk({"/usr/bin/skopeo", "copy", "-q",
                                          "--src-tls-verify=false", "docker://" + ref,
                                          "dir:" + dir},
                                         absl::Minutes(10));
  if (!s.ok()) return s;
  return absl::ToDoubleSeconds(absl::Now() - begin);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  auto env = testing::RegistryEnv::Start();
  if (!env.ok()) {
    std::fprintf(stderr, "bench-pull: %s\n", std::string(env.status().message()).c_str());
    return 1;
  }
  std::printf("bench-pull: building and pushing big:1 ...\n");
  std::fflush(stdout);
  if (absl::Status s = (*env)->PushTestImages({"big"}, true); !s.ok()) {
    std::fprintf(stderr, "bench-pull: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const std::string ref = (*env)->host() + "/big:1";
  char tmpl[] = "/tmp/berth-bench-pull-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  std::vector<double> berth_secs, skopeo_secs;
  int64_t bytes = 0;
  size_t layers = 0;
  int rc = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_rounds) && rc == 0; ++i) {
    auto p = MeasurePull(**env, ref, dir + "/store");
    auto k = MeasureSkopeo(**env, ref, dir + "/skopeo");
    if (!p.ok() || !k.ok()) {
      std::fprintf(stderr, "bench-pull: %s\n",
                   std::string((p.ok() ? k.status() : p.status()).message()).c_str());
      rc = 1;
      break;
    }
    bytes = p->bytes;
    layers = p->record.layers.size();
    berth_secs.push_back(p->seconds);
    skopeo_secs.push_back(*k);
  }
  if (rc == 0) {
    const double mb = bytes / 1e6;
    const double b = Median(berth_secs), s = Median(skopeo_secs);
    std::printf("pull %s: %.1f MB in %zu layers, median of %zu rounds\n", "big:1", mb, layers,
                berth_secs.size());
    std::printf("  berth Puller:  %7.1f MB/s  (%.2f s)\n", mb / b, b);
    std::printf("  skopeo copy:   %7.1f MB/s  (%.2f s)\n", mb / s, s);
    std::printf("  ratio berth/skopeo throughput: %.2f\n", s / b);
    const std::string keep = absl::GetFlag(FLAGS_keep_store);
    if (!keep.empty()) {
      runtime::RemoveTree(keep).IgnoreError();
      if (rename((dir + "/store").c_str(), keep.c_str()) == 0) {
        std::printf("  store kept at %s\n", keep.c_str());
      }
    }
  }
  runtime::RemoveTree(dir).IgnoreError();
  return rc;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::Main(argc, argv); }
