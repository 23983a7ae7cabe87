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

bool TrimHeapAbove(size_t threshold) {
  if (MallocFreeBytes() <= threshold) return false;
  malloc_trim(0);
  return true;
}

}  // namespace berth::runtime
