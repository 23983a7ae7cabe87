#include "runtime/sys/heap.h"

#include <malloc.h>

namespace berth::runtime {

size_t MallocFreeBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().fordblks;
#else
  return 0;
#endif
}

size_t TrimHeapAbove(size_t threshold) {
  const size_t held = MallocFreeBytes();
  if (held <= threshold) return 0;
  malloc_trim(0);
  return held;
}

}  // namespace berth::runtime
