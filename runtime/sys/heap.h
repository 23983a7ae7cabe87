// Giving malloc's free memory back to the kernel.
//
// glibc's malloc keeps what is freed in its arenas (one per thread that
// allocated, up to eight a core) and returns it to the kernel only from the
// top of the main heap. After a burst (a converge of hundreds of
// containers, a relist, a scrape), megabytes stay resident though nothing
// uses them. berthd looks now and then and trims when much is held.
#ifndef BERTH_RUNTIME_SYS_HEAP_H_
#define BERTH_RUNTIME_SYS_HEAP_H_

#include <cstddef>

namespace berth::runtime {

// Bytes free in malloc's arenas (mallinfo2's fordblks): what a trim could
// give back at most. 0 where malloc is not glibc's (a sanitizer's).
size_t MallocFreeBytes();

// When more than `threshold` bytes are free in malloc's arenas, asks glibc
// to give back the free pages of every arena (malloc_trim) and returns how
// many bytes were free; else returns 0. Costs a walk of the arenas' free
// lists; nothing is moved.
size_t TrimHeapAbove(size_t threshold);

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_SYS_HEAP_H_
