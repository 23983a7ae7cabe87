// berth-image: pulls, imports, lists and removes images in a content store.
//   berth-image [--store=DIR] [--insecure=host:port,...] [--ca=host:port=FILE,...]
//               [--docker_config=FILE] pull REF | import PATH [REF] | list | rm REF |
//               prune [KEEP_REF...]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/image/content_store.h"
#include "runtime/image/import.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"

ABSL_FLAG(std::string, store, "/var/lib/berth/images/content",
          "content store directory (berthd: <state-dir>/images/content)");
ABSL_FLAG(std::vector<std::string>, insecure, {}, "registries (host:port) spoken to over HTTP");
ABSL_FLAG(std::vector<std::string>, ca, {}, "extra CA files per registry: host:port=FILE");
ABSL_FLAG(std::string, docker_config, "",
          "docker config.json with credentials (default $DOCKER_CONFIG/config.json or "
          "~/.docker/config.json)");
ABSL_FLAG(int, timeout_seconds, 30, "registry requests fail after this long without progress");

namespace berth::image {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "berth-image: %s\n", std::string(s.message()).c_str());
  return 1;
}

int Usage() {
  std::fprintf(stderr,
               "usage: berth-image [flags] pull REF | import PATH [REF] | list | rm REF | "
               "prune [KEEP_REF...]\n");
  return 2;
}

std::string DockerConfigPath() {
  std::string flag = absl::GetFlag(FLAGS_docker_config);
  if (!flag.empty()) return flag;
  if (const char* d = std::getenv("DOCKER_CONFIG"); d != nullptr && *d) {
    return absl::StrCat(d, "/config.json");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home ? home : "/root", "/.docker/config.json");
}

int Main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Usage();
  const std::string cmd = args[1];
  auto store = ContentStore::Open(absl::GetFlag(FLAGS_store));
  if (!store.ok()) return Fail(store.status());
  RegistryClientOptions o;
  auto auth = DockerAuthConfig::Load(DockerConfigPath());
  if (!auth.ok()) return Fail(auth.status());
  o.auth = std::move(*auth);
  for (const std::string& h : absl::GetFlag(FLAGS_insecure)) o.insecure_registries.insert(h);
  for (const std::string& c : absl::GetFlag(FLAGS_ca)) {
    std::vector<std::string> kv = absl::StrSplit(c, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return Fail(absl::InvalidArgumentError("--ca wants host:port=FILE"));
    o.ca_files[kv[0]] = kv[1];
  }
  o.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  RegistryClient client(std::move(o));
  Puller puller(store->get(), &client);

  if (cmd == "pull" && args.size() == 3) {
    auto r = puller.Pull(args[2]);
    if (!r.ok()) return Fail(r.status());
    std::printf("%s %s\n", r->reference.c_str(), r->manifest_digest.c_str());
    return 0;
  }
  if (cmd == "import" && (args.size() == 3 || args.size() == 4)) {
    ImportOptions io;
    if (args.size() == 4) io.reference = args[3];
    auto r = ImportImage(store->get(), args[2], io);
    if (!r.ok()) return Fail(r.status());
    for (const ImageRecord& i : *r) {
      std::printf("%s %s\n", i.reference.c_str(), i.manifest_digest.c_str());
    }
    return 0;
  }
  if (cmd == "list" && args.size() == 2) {
    auto images = (*store)->ListImages();
    if (!images.ok()) return Fail(images.status());
    std::printf("%-60s %-20s %6s %12s\n", "REFERENCE", "MANIFEST", "LAYERS", "BYTES");
    for (const ImageRecord& i : *images) {
      int64_t bytes = 0;
      for (const LayerDescriptor& l : i.layers) bytes += l.size;
      std::printf("%-60s %-20s %6zu %12lld\n", i.reference.c_str(),
                  i.manifest_digest.substr(0, 19).c_str(), i.layers.size(),
                  static_cast<long long>(bytes));
    }
    return 0;
  }
  if (cmd == "rm" && args.size() == 3) {
    if (absl::Status s = puller.Remove(args[2]); !s.ok()) return Fail(s);
    return 0;
  }
  if (cmd == "prune") {
    std::set<std::string> keep(args.begin() + 2, args.end());
    auto r = puller.Prune(keep);
    if (!r.ok()) return Fail(r.status());
    std::printf("removed %zu images, %d blobs, %lld bytes\n", r->removed_images.size(),
                r->removed_blobs, static_cast<long long>(r->freed_bytes));
    return 0;
  }
  return Usage();
}

}  // namespace
}  // namespace berth::image

int main(int argc, char** argv) { return berth::image::Main(argc, argv); }
