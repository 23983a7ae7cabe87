# Sanitizer builds. Off unless -DBERTH_SANITIZE=<list>, which belongs in a
# build directory of its own (hack/sanitize uses build-asan/ and build-tsan/):
#   cmake -S . -B build-asan -DBERTH_SANITIZE=address,undefined
#   cmake -S . -B build-tsan -DBERTH_SANITIZE=thread
# Everything Berth compiles (libraries, tests, berthd, berth-monitor) is then
# instrumented; undefined behaviour aborts (no recovery) so a test fails on
# it. Prebuilt system libraries (Debian's abseil, gRPC, protobuf, ...) are not
# instrumented: ASan still sees their heap use through its malloc, TSan does
# not see their atomics: hack/tsan_absl.cc annotates abseil's Mutex, and
# hack/tsan.supp lists what remains, each entry with its reason.
set(BERTH_SANITIZE "" CACHE STRING
  "Sanitizers to build with: address,undefined or thread (use a separate build directory)")

if(BERTH_SANITIZE)
  if(BERTH_FUZZ)
    message(FATAL_ERROR "BERTH_SANITIZE and BERTH_FUZZ do not go together: the fuzz "
      "build has its own sanitizers")
  endif()
  if(BERTH_SANITIZE MATCHES "thread" AND BERTH_SANITIZE MATCHES "address")
    message(FATAL_ERROR "BERTH_SANITIZE: thread and address exclude each other")
  endif()
  add_compile_options(-fsanitize=${BERTH_SANITIZE} -fno-omit-frame-pointer)
  if(BERTH_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  add_link_options(-fsanitize=${BERTH_SANITIZE})
endif()

# TSan: annotations for Debian's uninstrumented absl::Mutex (hack/tsan_absl.cc),
# linked ahead of abseil into every executable defined from here on.
if(BERTH_SANITIZE MATCHES "thread")
  add_library(berth_tsan_absl SHARED ${PROJECT_SOURCE_DIR}/hack/tsan_absl.cc)
  target_link_libraries(berth_tsan_absl PRIVATE absl::synchronization ${CMAKE_DL_LIBS})
  link_libraries(berth_tsan_absl)
  # A race TSan must still report through the suppressions (hack/sanitize).
  add_executable(tsan_canary ${PROJECT_SOURCE_DIR}/hack/tsan_canary.cc)
  target_link_libraries(tsan_canary PRIVATE absl::synchronization cpprestsdk::cpprest)
endif()
