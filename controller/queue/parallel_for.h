// ParallelFor: one loop's independent iterations on a few threads at once,
// for work that is mostly waiting on the kernel (reading and parsing many
// small files).
//
// Guarantees:
//  * f(i) is called exactly once for every i in [0, n), and ParallelFor
//    returns only when every call has returned. For different i the calls
//    may run concurrently; f must allow that.
//  * Up to min(cores, max_threads, n / min_per_thread) threads work,
//    counting the caller's; with one or none, every call is on the caller's
//    thread, in index order. Each thread takes the next `chunk` indexes.
//  * A helper thread that cannot be started (std::thread's system_error,
//    e.g. at a task limit) is done without: the threads there are (at least
//    the caller's) do all the work. Nothing is thrown for it.
//  * f must not throw.
#ifndef BERTH_CONTROLLER_QUEUE_PARALLEL_FOR_H_
#define BERTH_CONTROLLER_QUEUE_PARALLEL_FOR_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <thread>

namespace berth {

struct ParallelForOptions {
  size_t cores = 0;  // 0: std::thread::hardware_concurrency()
  size_t max_threads = 8;
  size_t min_per_thread = 64;  // below ~2 ms of work a thread is not worth it
  size_t chunk = 16;
  // Starts a helper thread running `work`; nullopt when none can be had.
  // Tests replace it; the default starts a std::thread.
  std::function<std::optional<std::thread>(std::function<void()> work)> start_thread;
};

void ParallelFor(size_t n, const std::function<void(size_t)>& f,
                 const ParallelForOptions& options = {});

}  // namespace berth

#endif  // BERTH_CONTROLLER_QUEUE_PARALLEL_FOR_H_
