// A race TSan must report in the TSan build, to prove that hack/tsan.supp
// and hack/tsan_absl.cc hide only third-party false reports and never a
// race in Berth's code (hack/sanitize tsan runs it before the tests and
// fails unless every case below is reported).
//
//   tsan_canary pplx   two pplx tasks on cpprestsdk's threads write one int
//                      with nothing ordering them: the threads' creation
//                      stacks and the tasks' frames are cpprestsdk's and
//                      pplx's, as in every report the suppressions match.
//   tsan_canary absl   an unguarded write beside writes guarded by an
//                      absl::Mutex (annotated by hack/tsan_absl.cc).
//
// Each case exits 0 if TSan stays silent; with TSan's exitcode the report
// makes it exit 66.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "pplx/pplxtasks.h"

namespace {

// Not atomic on purpose: the race to be reported.
int shared_value = 0;

void Pplx() {
  // The tasks overlap by sleeping, not by any synchronization TSan could
  // see as ordering them.
  auto a = pplx::create_task([] {
    shared_value = 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  auto b = pplx::create_task([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    shared_value = 2;
  });
  a.wait();
  b.wait();
}

void Absl() {
  absl::Mutex mu;
  std::thread t([&] {
    absl::MutexLock lock(&mu);
    shared_value = 1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  shared_value = 2;  // unguarded
  t.join();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "pplx") == 0) {
    Pplx();
  } else if (argc == 2 && std::strcmp(argv[1], "absl") == 0) {
    Absl();
  } else {
    std::fprintf(stderr, "usage: tsan_canary pplx|absl\n");
    return 2;
  }
  std::printf("%d\n", shared_value);
  return 0;
}
