// End-to-end pulls from a real docker-registry on 127.0.0.1 (label e2e).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/image/content_store.h"
#include "runtime/image/digest.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"
#include "runtime/sys/process.h"
#include "tests/registry_env.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::RegistryEnv;

class ImageE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ContentStore::Open(dir_.path() + "/store");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    std::vector<std::pair<pid_t, std::string>> envs;
    for (auto& e : envs_) envs.emplace_back(e->pid(), e->dir());
    envs_.clear();
    for (auto& [pid, dir] : envs) {
      EXPECT_NE(kill(pid, 0), 0) << "registry " << pid << " still running";
      EXPECT_NE(access(dir.c_str(), F_OK), 0) << dir << " left behind";
    }
  }

  RegistryEnv* StartRegistry(testing::RegistryEnvOptions o = {},
                             const std::vector<std::string>& images = {"busybox"}) {
    auto env = RegistryEnv::Start(o);
    EXPECT_TRUE(env.ok()) << env.status();
    if (!env.ok()) return nullptr;
    absl::Status pushed = (*env)->PushTestImages(images);
    EXPECT_TRUE(pushed.ok()) << pushed;
    envs_.push_back(std::move(*env));
    return envs_.back().get();
  }

  std::unique_ptr<RegistryClient> Client(const RegistryEnv& env, RegistryClientOptions o = {}) {
    if (o.ca_files.empty()) o.insecure_registries.insert(env.host());
    o.timeout = absl::Seconds(10);
    return std::make_unique<RegistryClient>(std::move(o));
  }

  // The digest of busybox:1's layer on `env`; empty (and a test failure)
  // when the manifest cannot be read.
  std::string BusyboxLayer(RegistryClient& client, const RegistryEnv& env) {
    auto manifest = client.GetManifest(*ParseReference(env.host() + "/busybox:1"), "1");
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    if (!manifest.ok()) return "";
    return nlohmann::json::parse(manifest->body)["layers"][0]["digest"].get<std::string>();
  }

  // Every blob the record names is committed and verifies.
  void ExpectComplete(const ImageRecord& r) {
    for (const std::string& d : ReferencedDigests(r)) {
      ASSERT_TRUE(store_->Has(d)) << d;
      std::ifstream in(store_->BlobPath(d), std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(DigestOf(data), d);
    }
    for (const LayerDescriptor& l : r.layers) EXPECT_TRUE(IsValidDigest(l.diff_id));
    EXPECT_EQ(r.layers.size(), r.config["rootfs"]["diff_ids"].size());
  }

  testing::TempDir dir_{"berth-image-e2e"};
  std::unique_ptr<ContentStore> store_;
  std::vector<std::unique_ptr<RegistryEnv>> envs_;
};

TEST_F(ImageE2eTest, PullsByTagAndByDigest) {
  RegistryEnv* env = StartRegistry();
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  ASSERT_TRUE(client->Ping(env->host()).ok());
  Puller puller(store_.get(), client.get());
  const std::string ref = env->host() + "/busybox:1";
  PullOptions options;
  std::vector<PullProgress> progress;
  options.progress = [&](const PullProgress& p) { progress.push_back(p); };
  auto r = puller.Pull(ref, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->reference, ref);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().layer_bytes, r->layers[0].size);
  EXPECT_EQ(progress.back().layer_digest, r->layers[0].digest);
  EXPECT_EQ(progress.back().layer_count, 1);
  EXPECT_EQ(r->index_digest, "");
  ASSERT_EQ(r->layers.size(), 1u);
  EXPECT_EQ(r->layers[0].media_type, kOciLayerGzip);
  EXPECT_EQ(r->config["architecture"], NodePlatform().architecture);
  ExpectComplete(*r);
  EXPECT_EQ(puller.Get(ref)->manifest_digest, r->manifest_digest);

  const std::string by_digest = env->host() + "/busybox@" + r->manifest_digest;
  auto d = puller.Pull(by_digest);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->reference, by_digest);
  EXPECT_EQ(d->manifest_digest, r->manifest_digest);
  EXPECT_EQ(d->layers[0].digest, r->layers[0].digest);

  auto missing = puller.Pull(env->host() + "/busybox:nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("manifest unknown"));
  EXPECT_EQ(puller.Get(env->host() + "/busybox:nope").status().code(), absl::StatusCode::kNotFound);
  // No TLS without being listed as insecure: the plain registry fails.
  RegistryClient strict({});
  EXPECT_EQ(strict.Ping(env->host()).code(), absl::StatusCode::kUnavailable);
}

TEST_F(ImageE2eTest, ConcurrentPullsOfOneReferenceShareIt) {
  RegistryEnv* env = StartRegistry();
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<ImageRecord>> results(4, absl::UnknownError(""));
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = puller.Pull(env->host() + "/busybox:1"); });
  }
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->manifest_digest, results[0]->manifest_digest);
  }
  EXPECT_THAT(store_->Partials(), IsEmpty());
}

TEST_F(ImageE2eTest, IndexResolvesToTheNodePlatform) {
  RegistryEnv* env = StartRegistry({}, {"multi"});
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  auto r = puller.Pull(env->host() + "/multi:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->index_digest, "");
  EXPECT_EQ(r->config["architecture"], NodePlatform().architecture);
  EXPECT_EQ(r->layers.size(), 2u);
  ExpectComplete(*r);
  // The other platform is there too, and distinct.
  PullOptions other;
  other.platform.architecture = NodePlatform().architecture == "arm64" ? "amd64" : "arm64";
  auto o = puller.Pull(env->host() + "/multi:1", other);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_NE(o->manifest_digest, r->manifest_digest);
  EXPECT_EQ(o->config["architecture"], other.platform.architecture);
  PullOptions none;
  none.platform.architecture = "s390x";
  auto n = puller.Pull(env->host() + "/multi:1", none);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(n.status().message(), HasSubstr("no manifest for linux/s390x"));
}

TEST_F(ImageE2eTest, PullsLayeredAndZstdImages) {
  RegistryEnv* env = StartRegistry({}, {"layers", "zstd"});
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  auto layers = puller.Pull(env->host() + "/layers:1");
  ASSERT_TRUE(layers.ok()) << layers.status();
  EXPECT_EQ(layers->layers.size(), 5u);
  ExpectComplete(*layers);
  auto zstd = puller.Pull(env->host() + "/zstd:1");
  ASSERT_TRUE(zstd.ok()) << zstd.status();
  ASSERT_EQ(zstd->layers.size(), 1u);
  EXPECT_EQ(zstd->layers[0].media_type, kOciLayerZstd);
  ExpectComplete(*zstd);
}

TEST_F(ImageE2eTest, BasicAuthOverTlsWithTheCa) {
  testing::RegistryEnvOptions o;
  o.tls = true;
  o.user = "berth";
  o.password = "s3cret";
  RegistryEnv* env = StartRegistry(o);
  ASSERT_NE(env, nullptr);
  const std::string ref = env->host() + "/busybox:1";

  RegistryClientOptions good;
  good.ca_files[env->host()] = env->ca_file();
  good.auth.Set(env->host(), {"berth", "s3cret"});
  auto client = Client(*env, good);
  Puller puller(store_.get(), client.get());
  auto r = puller.Pull(ref);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectComplete(*r);

  RegistryClientOptions wrong = good;
  wrong.auth.Set(env->host(), {"berth", "wrong"});
  auto wrong_client = Client(*env, wrong);
  auto denied = Puller(store_.get(), wrong_client.get()).Pull(ref);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << denied.status();

  RegistryClientOptions anonymous;
  anonymous.ca_files[env->host()] = env->ca_file();
  auto anonymous_client = Client(*env, anonymous);
  auto anon = Puller(store_.get(), anonymous_client.get()).Pull(ref);
  EXPECT_EQ(anon.status().code(), absl::StatusCode::kPermissionDenied) << anon.status();
  EXPECT_THAT(anon.status().message(), HasSubstr("no credentials"));

  // Without the CA the certificate does not verify.
  RegistryClientOptions no_ca;
  no_ca.auth = good.auth;
  RegistryClient untrusting(no_ca);
  auto untrusted = Puller(store_.get(), &untrusting).Pull(ref);
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable) << untrusted.status();
}

// The node's docker config names a credential helper for the registry (as
// `docker login` with one configured leaves it): the pull asks it.
TEST_F(ImageE2eTest, BasicAuthFromACredentialHelper) {
  testing::RegistryEnvOptions o;
  o.tls = true;
  o.user = "berth";
  o.password = "from-helper";
  RegistryEnv* env = StartRegistry(o);
  ASSERT_NE(env, nullptr);
  const std::string bin = dir_.path() + "/bin";
  ASSERT_TRUE(runtime::MakeDirs(bin).ok());
  ASSERT_TRUE(runtime::WriteFileAtomic(
                  bin + "/docker-credential-berthtest",
                  absl::StrCat("#!/bin/sh\nread -r server\n[ \"$1 $server\" = \"get ", env->host(),
                               "\" ] || exit 2\n"
                               "echo '{\"ServerURL\":\"'$server'\",\"Username\":\"berth\","
                               "\"Secret\":\"from-helper\"}'\n"))
                  .ok());
  ASSERT_EQ(chmod((bin + "/docker-credential-berthtest").c_str(), 0755), 0);
  const std::string old_path = getenv("PATH") != nullptr ? getenv("PATH") : "";
  setenv("PATH", absl::StrCat(bin, ":", old_path).c_str(), 1);
  auto config = DockerAuthConfig::Parse(
      absl::StrCat(R"({"credHelpers": {")", env->host(), R"(": "berthtest"}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  RegistryClientOptions with_helper;
  with_helper.ca_files[env->host()] = env->ca_file();
  with_helper.auth = *config;
  auto client = Client(*env, with_helper);
  auto r = Puller(store_.get(), client.get()).Pull(env->host() + "/busybox:1");
  setenv("PATH", old_path.c_str(), 1);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectComplete(*r);
}

TEST_F(ImageE2eTest, RegistryDownIsUnavailableAndARetryWorks) {
  RegistryEnv* env = StartRegistry();
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  env->Stop();
  auto down = puller.Pull(env->host() + "/busybox:1");
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  ASSERT_TRUE(env->Restart().ok());
  auto r = puller.Pull(env->host() + "/busybox:1");
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectComplete(*r);
}

TEST_F(ImageE2eTest, CorruptedBlobIsRejectedAndNothingStored) {
  RegistryEnv* env = StartRegistry();
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  const std::string layer = BusyboxLayer(*client, *env);
  ASSERT_FALSE(layer.empty());
  // Same size, one byte changed, in the registry's own storage.
  const std::string data_file = env->StoredBlobPath(layer);
  auto data = runtime::ReadFile(data_file, 64 << 20);
  ASSERT_TRUE(data.ok()) << data.status();
  std::string bad = *data;
  bad[bad.size() / 2] ^= 0x5a;
  ASSERT_TRUE(runtime::WriteFileAtomic(data_file, bad).ok());

  auto r = puller.Pull(env->host() + "/busybox:1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("pull image ", env->host(), "/busybox:1: blob ", layer,
                                     " digest mismatch: got ", DigestOf(bad))));
  EXPECT_FALSE(store_->Has(layer));
  EXPECT_THAT(store_->Partials(), IsEmpty());
  EXPECT_EQ(puller.Get(env->host() + "/busybox:1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageE2eTest, PartialDownloadResumesWithARangeRequest) {
  RegistryEnv* env = StartRegistry();
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  const std::string layer = BusyboxLayer(*client, *env);
  ASSERT_FALSE(layer.empty());
  const std::string data_file = env->StoredBlobPath(layer);
  auto data = runtime::ReadFile(data_file, 64 << 20);
  ASSERT_TRUE(data.ok());
  // A crash left the first half; then the registry's copy of that first
  // half goes bad. Only a resume from the partial's end still verifies.
  const size_t half = data->size() / 2;
  ASSERT_TRUE(runtime::WriteFileAtomic(
                  absl::StrCat(store_->root(), "/ingest/", DigestHex(layer), ".partial"),
                  data->substr(0, half))
                  .ok());
  std::string bad = *data;
  bad[10] ^= 0x5a;
  ASSERT_TRUE(runtime::WriteFileAtomic(data_file, bad).ok());
  EXPECT_FALSE(store_->Has(layer));
  auto r = puller.Pull(env->host() + "/busybox:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*store_->ReadBlob(layer, 64 << 20), *data);
  EXPECT_THAT(store_->Partials(), IsEmpty());
}

TEST_F(ImageE2eTest, PruneKeepsWhatIsReferenced) {
  RegistryEnv* env = StartRegistry({}, {"busybox", "layers"});
  ASSERT_NE(env, nullptr);
  auto client = Client(*env);
  Puller puller(store_.get(), client.get());
  auto busybox = puller.Pull(env->host() + "/busybox:1");
  auto layers = puller.Pull(env->host() + "/layers:1");
  ASSERT_TRUE(busybox.ok() && layers.ok());
  // A stray blob nothing references.
  ASSERT_TRUE(store_->WriteBlob("test", DigestOf("stray"), "stray").ok());
  auto pruned = puller.Prune({env->host() + "/busybox:1"});
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->removed_images, std::vector<std::string>{env->host() + "/layers:1"});
  EXPECT_GT(pruned->removed_blobs, 0);
  ExpectComplete(*busybox);
  EXPECT_FALSE(store_->Has(DigestOf("stray")));
  EXPECT_FALSE(store_->Has(layers->manifest_digest));
  EXPECT_FALSE(store_->Has(layers->layers.back().digest));
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  std::set<std::string> left(listed->begin(), listed->end());
  EXPECT_EQ(left, ReferencedDigests(*busybox));
  ASSERT_TRUE(puller.Remove(env->host() + "/busybox:1").ok());
  EXPECT_EQ(puller.Remove(env->host() + "/busybox:1").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(puller.Prune({}).ok());
  EXPECT_THAT(*store_->List(), IsEmpty());
}

}  // namespace
}  // namespace berth::image
