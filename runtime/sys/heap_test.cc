#include "runtime/sys/heap.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace berth::runtime {
namespace {

// This process's resident bytes, from /proc/self/statm.
size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

TEST(HeapTest, FreedMemoryHeldBelowALiveBlockIsGivenBack) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "malloc is the sanitizer's, not glibc's";
#else
  // 256 blocks of 32 kB (below the mmap threshold: in the heap), each
  // written, then all freed but the last, which keeps the heap's top from
  // shrinking by itself: 8 MB free, and resident.
  constexpr size_t kBlock = 32 << 10;
  constexpr int kBlocks = 256;
  std::vector<char*> blocks;
  for (int i = 0; i < kBlocks; ++i) {
    char* p = static_cast<char*>(std::malloc(kBlock));
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, kBlock);
    blocks.push_back(p);
  }
  for (int i = 0; i + 1 < kBlocks; ++i) std::free(blocks[i]);
  const size_t free_before = MallocFreeBytes();
  EXPECT_GE(free_before, size_t{7} << 20);
  EXPECT_EQ(TrimHeapAbove(free_before + (64 << 20)), 0u) << "under the threshold: left alone";
  const size_t resident_before = ResidentBytes();
  EXPECT_GE(TrimHeapAbove(1 << 20), size_t{7} << 20);
  const size_t resident_after = ResidentBytes();
  EXPECT_GE(resident_before, resident_after + (size_t{6} << 20))
      << "before " << resident_before << ", after " << resident_after;
  std::free(blocks.back());
#endif
}

}  // namespace
}  // namespace berth::runtime
