#include "controller/queue/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <utility>
#include <vector>

namespace berth {

namespace {

std::optional<std::thread> StartThread(std::function<void()> work) {
  try {
    return std::thread(std::move(work));
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

}  // namespace

void ParallelFor(size_t n, const std::function<void(size_t)>& f,
                 const ParallelForOptions& options) {
  const size_t cores =
      options.cores > 0 ? options.cores : std::max(1u, std::thread::hardware_concurrency());
  const size_t per_thread = std::max<size_t>(options.min_per_thread, 1);
  const size_t threads = std::min<size_t>({cores, options.max_threads, n / per_thread});
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  const size_t chunk = std::max<size_t>(options.chunk, 1);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t begin = next.fetch_add(chunk); begin < n; begin = next.fetch_add(chunk)) {
      for (size_t i = begin; i < std::min(n, begin + chunk); ++i) f(i);
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) {
    std::optional<std::thread> helper =
        options.start_thread ? options.start_thread(work) : StartThread(work);
    if (!helper.has_value()) break;  // no thread to be had: fewer do the work
    helpers.push_back(std::move(*helper));
  }
  work();
  for (std::thread& t : helpers) t.join();
}

}  // namespace berth
