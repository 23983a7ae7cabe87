#include "runtime/image/content_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/image/digest.h"
#include "runtime/sys/process.h"
#include "tests/temp_dir.h"

namespace berth::image {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ContentStore::Open(dir_.path() + "/store");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string PartialPath(const std::string& digest) {
    return absl::StrCat(dir_.path(), "/store/ingest/", DigestHex(digest), ".partial");
  }

  // A source serving `data` from the offset it is given.
  BlobSource Serve(const std::string& data, std::vector<int64_t>* offsets = nullptr) {
    return [data, offsets](int64_t offset, BlobWriter* w) {
      if (offsets != nullptr) offsets->push_back(offset);
      return w->Write(data.data() + offset, data.size() - offset);
    };
  }

  testing::TempDir dir_{"berth-cs"};
  std::unique_ptr<ContentStore> store_;
};

std::string Data(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 + (i >> 7));
  return s;
}

TEST_F(ContentStoreTest, IngestCommitsVerifiedBlob) {
  const std::string data = Data(3 << 20, 'a');
  const std::string digest = DigestOf(data);
  EXPECT_FALSE(store_->Has(digest));
  ASSERT_TRUE(store_->Ingest("pull image x", digest, data.size(), Serve(data)).ok());
  EXPECT_TRUE(store_->Has(digest));
  EXPECT_EQ(store_->BlobPath(digest),
            dir_.path() + "/store/blobs/sha256/" + std::string(DigestHex(digest)));
  EXPECT_EQ(*store_->Size(digest), static_cast<int64_t>(data.size()));
  EXPECT_EQ(*store_->ReadBlob(digest, 4 << 20), data);
  EXPECT_EQ(store_->ReadBlob(digest, 10).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*store_->List(), std::vector<std::string>{digest});
  EXPECT_GE(*store_->DiskUsage(), static_cast<int64_t>(data.size()));
  EXPECT_THAT(store_->Partials(), IsEmpty());
  // Present already: the source is not asked again.
  bool called = false;
  ASSERT_TRUE(store_
                  ->Ingest("x", digest, data.size(),
                           [&](int64_t, BlobWriter*) {
                             called = true;
                             return absl::OkStatus();
                           })
                  .ok());
  EXPECT_FALSE(called);
  // ... but a descriptor with another size for it is bad content.
  EXPECT_EQ(store_->Ingest("x", digest, 5, Serve(data)).code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(store_->Delete(digest).ok());
  EXPECT_FALSE(store_->Has(digest));
  EXPECT_TRUE(store_->Delete(digest).ok());
}

TEST_F(ContentStoreTest, WrongDigestIsRejectedAndNothingStored) {
  const std::string data = Data(100000, 'b');
  std::string bad = data;
  bad[500] ^= 1;
  const std::string digest = DigestOf(data);
  absl::Status s = store_->Ingest("pull image busybox", digest, data.size(), Serve(bad));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("pull image busybox: blob ", digest,
                                                  " digest mismatch: got ", DigestOf(bad))));
  EXPECT_FALSE(store_->Has(digest));
  EXPECT_THAT(*store_->List(), IsEmpty());
  EXPECT_THAT(store_->Partials(), IsEmpty());
  EXPECT_NE(access(PartialPath(digest).c_str(), F_OK), 0);
}

TEST_F(ContentStoreTest, WrongSizeIsRejected) {
  const std::string data = Data(1000, 'c');
  const std::string digest = DigestOf(data);
  absl::Status shorter = store_->Ingest("x", digest, data.size(), Serve(data.substr(0, 999)));
  EXPECT_EQ(shorter.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(shorter.message(), HasSubstr("size mismatch: got 999 bytes, want 1000"));
  absl::Status longer = store_->Ingest("x", digest, data.size(), Serve(data + "z"));
  EXPECT_EQ(longer.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(longer.message(), HasSubstr("size mismatch"));
  EXPECT_THAT(*store_->List(), IsEmpty());
  EXPECT_THAT(store_->Partials(), IsEmpty());
  EXPECT_EQ(store_->Ingest("x", "sha256:abc", 3, Serve("abc")).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ContentStoreTest, PartialLeftByACrashIsResumedNotUsed) {
  const std::string data = Data(200000, 'd');
  const std::string digest = DigestOf(data);
  ASSERT_TRUE(runtime::WriteFileAtomic(PartialPath(digest), data.substr(0, 70000)).ok());
  EXPECT_FALSE(store_->Has(digest));
  EXPECT_EQ(store_->Partials(), (std::map<std::string, int64_t>{{digest, 70000}}));
  std::vector<int64_t> offsets;
  ASSERT_TRUE(store_->Ingest("x", digest, data.size(), Serve(data, &offsets)).ok());
  EXPECT_EQ(offsets, std::vector<int64_t>{70000});
  EXPECT_EQ(*store_->ReadBlob(digest), data);
  EXPECT_THAT(store_->Partials(), IsEmpty());
}

TEST_F(ContentStoreTest, CorruptPartialIsDiscardedAndFetchedAgain) {
  const std::string data = Data(200000, 'e');
  const std::string digest = DigestOf(data);
  std::string garbage = data.substr(0, 70000);
  garbage[10] ^= 0x55;
  ASSERT_TRUE(runtime::WriteFileAtomic(PartialPath(digest), garbage).ok());
  std::vector<int64_t> offsets;
  ASSERT_TRUE(store_->Ingest("x", digest, data.size(), Serve(data, &offsets)).ok());
  EXPECT_EQ(offsets, (std::vector<int64_t>{70000, 0}));
  EXPECT_EQ(*store_->ReadBlob(digest), data);
}

TEST_F(ContentStoreTest, OversizedPartialIsDiscarded) {
  const std::string data = Data(1000, 'f');
  const std::string digest = DigestOf(data);
  ASSERT_TRUE(runtime::WriteFileAtomic(PartialPath(digest), Data(5000, 'q')).ok());
  std::vector<int64_t> offsets;
  ASSERT_TRUE(store_->Ingest("x", digest, data.size(), Serve(data, &offsets)).ok());
  EXPECT_EQ(offsets, std::vector<int64_t>{0});
}

TEST_F(ContentStoreTest, SourceThatCannotResumeRestarts) {
  const std::string data = Data(50000, 'g');
  const std::string digest = DigestOf(data);
  ASSERT_TRUE(runtime::WriteFileAtomic(PartialPath(digest), data.substr(0, 20000)).ok());
  ASSERT_TRUE(store_
                  ->Ingest("x", digest, data.size(),
                           [&](int64_t offset, BlobWriter* w) {
                             EXPECT_EQ(offset, 20000);
                             if (absl::Status s = w->Restart(); !s.ok()) return s;
                             EXPECT_EQ(w->written(), 0);
                             return w->Write(data.data(), data.size());
                           })
                  .ok());
  EXPECT_EQ(*store_->ReadBlob(digest), data);
}

TEST_F(ContentStoreTest, TransportErrorKeepsPartialOtherErrorsDiscardIt) {
  const std::string data = Data(10000, 'h');
  const std::string digest = DigestOf(data);
  auto half_then = [&](absl::Status err) {
    return [&data, err](int64_t offset, BlobWriter* w) {
      if (absl::Status s = w->Write(data.data(), 4000); !s.ok()) return s;
      return err;
    };
  };
  EXPECT_EQ(
      store_->Ingest("x", digest, data.size(), half_then(absl::UnavailableError("reset"))).code(),
      absl::StatusCode::kUnavailable);
  EXPECT_FALSE(store_->Has(digest));
  EXPECT_EQ(store_->Partials(), (std::map<std::string, int64_t>{{digest, 4000}}));
  EXPECT_EQ(store_
                ->Ingest("x", digest, data.size(),
                         [&](int64_t offset, BlobWriter* w) {
                           EXPECT_EQ(offset, 4000);
                           return absl::PermissionDeniedError("denied");
                         })
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(store_->Partials(), IsEmpty());
  // DiscardPartials removes what a failed transfer left.
  (void)store_->Ingest("x", digest, data.size(), half_then(absl::UnavailableError("reset")));
  EXPECT_EQ(store_->DiscardPartials(), 1);
  EXPECT_THAT(store_->Partials(), IsEmpty());
}

TEST_F(ContentStoreTest, ConcurrentIngestsOfOneDigestFetchOnce) {
  const std::string data = Data(1 << 20, 'i');
  const std::string digest = DigestOf(data);
  std::atomic<int> fetches{0};
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      absl::Status s = store_->Ingest("x", digest, data.size(), [&](int64_t, BlobWriter* w) {
        ++fetches;
        absl::SleepFor(absl::Milliseconds(200));
        return w->Write(data.data(), data.size());
      });
      if (s.ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(*store_->ReadBlob(digest, 2 << 20), data);
}

TEST_F(ContentStoreTest, ConcurrentIngestsShareAFailure) {
  const std::string data = Data(1000, 'j');
  const std::string digest = DigestOf(data);
  std::atomic<int> fetches{0};
  std::vector<std::thread> threads;
  std::atomic<int> data_loss{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::Status s = store_->Ingest("x", digest, data.size(), [&](int64_t, BlobWriter* w) {
        ++fetches;
        absl::SleepFor(absl::Milliseconds(200));
        return w->Write("nope", 4);
      });
      if (s.code() == absl::StatusCode::kDataLoss) ++data_loss;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(data_loss.load(), 4);
  EXPECT_FALSE(store_->Has(digest));
}

TEST_F(ContentStoreTest, IngestWaitsForAnotherProcessHoldingThePartial) {
  auto store = ContentStore::Open(dir_.path() + "/store", {.ingest_wait = absl::Milliseconds(300)});
  ASSERT_TRUE(store.ok());
  const std::string data = Data(1000, 'k');
  const std::string digest = DigestOf(data);
  // flock is per open file description: this stands in for another process.
  int fd = open(PartialPath(digest).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  bool called = false;
  absl::Status s = (*store)->Ingest("x", digest, data.size(), [&](int64_t, BlobWriter* w) {
    called = true;
    return w->Write(data.data(), data.size());
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_FALSE(called);
  EXPECT_THAT((*store)->Partials(), IsEmpty());  // locked ones are not listed
  // The other one commits meanwhile: the waiter finds the blob.
  std::thread other([&] {
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_EQ(pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(rename(PartialPath(digest).c_str(), (*store)->BlobPath(digest).c_str()), 0);
    close(fd);
  });
  ASSERT_TRUE((*store)->Ingest("x", digest, data.size(), Serve("wrong")).ok());
  other.join();
  EXPECT_EQ(*(*store)->ReadBlob(digest), data);
  EXPECT_THAT((*store)->Partials(), IsEmpty());
}

TEST_F(ContentStoreTest, OpenRemovesTemporaryLeftovers) {
  const std::string tmp = dir_.path() + "/store/ingest/tmp-abc123";
  ASSERT_TRUE(runtime::WriteFileAtomic(tmp, "half").ok());
  ASSERT_TRUE(ContentStore::Open(dir_.path() + "/store").ok());
  EXPECT_NE(access(tmp.c_str(), F_OK), 0);
}

TEST_F(ContentStoreTest, IngestByContentCommitsUnderTheComputedDigest) {
  const std::string data = Data(12345, 'l');
  auto r = store_->IngestByContent(
      "import x", [&](BlobWriter* w) { return w->Write(data.data(), data.size()); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->digest, DigestOf(data));
  EXPECT_EQ(r->size, 12345);
  EXPECT_TRUE(r->created);
  EXPECT_EQ(*store_->ReadBlob(r->digest), data);
  auto again = store_->IngestByContent(
      "import x", [&](BlobWriter* w) { return w->Write(data.data(), data.size()); });
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  auto failed = store_->IngestByContent("import x", [&](BlobWriter* w) {
    (void)w->Write("abc", 3);
    return absl::DataLossError("truncated tar");
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->List()->size(), 1u);
  EXPECT_THAT(*store_->DiskUsage() > 0, true);
}

TEST_F(ContentStoreTest, ImageRecordsRoundTrip) {
  ImageRecord r;
  r.reference = "docker.io/library/busybox:latest";
  r.manifest_digest = DigestOf("m");
  r.config_digest = DigestOf("c");
  r.config = {{"architecture", "amd64"}, {"rootfs", {{"type", "layers"}}}};
  r.layers = {{DigestOf("l1"), kOciLayerGzip, 10, DigestOf("d1")},
              {DigestOf("l2"), kOciLayerZstd, 20, DigestOf("d2")}};
  ASSERT_TRUE(store_->PutImage(r).ok());
  auto got = store_->GetImage(r.reference);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->manifest_digest, r.manifest_digest);
  EXPECT_EQ(got->config, r.config);
  ASSERT_EQ(got->layers.size(), 2u);
  EXPECT_EQ(got->layers[1].diff_id, DigestOf("d2"));
  EXPECT_EQ(got->layers[1].media_type, kOciLayerZstd);
  EXPECT_EQ(got->layers[1].size, 20);
  ImageRecord other = r;
  other.reference = "docker.io/library/alpine:3";
  ASSERT_TRUE(store_->PutImage(other).ok());
  auto all = store_->ListImages();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].reference, "docker.io/library/alpine:3");
  ASSERT_TRUE(store_->DeleteImage(r.reference).ok());
  EXPECT_EQ(store_->GetImage(r.reference).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListImages()->size(), 1u);
}

}  // namespace
}  // namespace berth::image
