// ThreadSanitizer annotations for a prebuilt, uninstrumented abseil (TSan
// builds only: cmake/sanitize.cmake links this library first into every
// executable when BERTH_SANITIZE=thread).
//
// Debian's libabsl_synchronization is not compiled with -fsanitize=thread, so
// its Mutex takes and releases locks with atomics TSan never sees, and every
// access guarded by an absl::Mutex would be reported as a race. An abseil
// built with TSan annotates Mutex itself (ABSL_TSAN_MUTEX_* in mutex.cc);
// this file does the same from outside: it defines Mutex's, CondVar's and
// Notification's out-of-line functions (the dynamic linker then picks these,
// ahead of the library's, for Berth and for every shared library, abseil's
// own calls included), tells TSan what each does to the lock, and calls the
// library's function found with dlsym(RTLD_NEXT). Inside a lock operation
// TSan ignores memory accesses, as abseil's own annotations do: conditions
// run there under the lock, perhaps on another thread.
//
// Assumes that Await and CondVar waits hold the Mutex in writer mode (Berth
// never waits under a reader lock). Aborts at the first use if a function
// is not in the library (another abseil release): never a silent miss.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#define BERTH_TSAN_STR2(x) #x
#define BERTH_TSAN_STR(x) BERTH_TSAN_STR2(x)

namespace {

// The library's function with the mangled name
// _ZN[K]4absl<len><inline namespace><rest>, as F.
template <typename F>
F Real(bool is_const, const char* rest) {
  const char* ns = BERTH_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  std::string name = std::string(is_const ? "_ZNK4absl" : "_ZN4absl") +
                     std::to_string(std::strlen(ns)) + ns + rest;
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl: %s is not in abseil: %s\n", name.c_str(), dlerror());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// Lock operations of abseil call one another (AwaitWithTimeout calls
// AwaitWithDeadline, through the functions below): only the outermost is
// annotated.
thread_local int depth = 0;

struct Nested {
  Nested() { ++depth; }
  ~Nested() { --depth; }
  Nested(const Nested&) = delete;
  Nested& operator=(const Nested&) = delete;
};

// Locks: an acquire of `mu` once `lock` returned (true when it took it).
template <typename Lock>
bool Acquire(void* mu, unsigned flags, Lock lock) {
  if (depth > 0) return lock();
  Nested nested;
  __tsan_mutex_pre_lock(mu, flags);
  bool took = lock();
  __tsan_mutex_post_lock(mu, took ? flags : flags | __tsan_mutex_try_lock_failed, 0);
  return took;
}

template <typename Unlock>
void Release(void* mu, unsigned flags, Unlock unlock) {
  if (depth > 0) return unlock();
  Nested nested;
  __tsan_mutex_pre_unlock(mu, flags);
  unlock();
  __tsan_mutex_post_unlock(mu, flags);
}

// A wait that releases `mu` and holds it again when it returns.
template <typename Wait>
bool ReleaseAndReacquire(void* mu, Wait wait) {
  if (depth > 0) return wait();
  Nested nested;
  __tsan_mutex_pre_unlock(mu, 0);
  bool result = wait();
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

using MutexFn = void (*)(Mutex*);
using MutexTryFn = bool (*)(Mutex*);
using MutexCondFn = void (*)(Mutex*, const Condition&);
using MutexCondTimeoutFn = bool (*)(Mutex*, const Condition&, Duration);
using MutexCondDeadlineFn = bool (*)(Mutex*, const Condition&, Time);

void Mutex::Lock() {
  static auto real = Real<MutexFn>(false, "5Mutex4LockEv");
  Acquire(this, 0, [&] { return real(this), true; });
}
void Mutex::ReaderLock() {
  static auto real = Real<MutexFn>(false, "5Mutex10ReaderLockEv");
  Acquire(this, __tsan_mutex_read_lock, [&] { return real(this), true; });
}
bool Mutex::TryLock() {
  static auto real = Real<MutexTryFn>(false, "5Mutex7TryLockEv");
  return Acquire(this, __tsan_mutex_try_lock, [&] { return real(this); });
}
bool Mutex::ReaderTryLock() {
  static auto real = Real<MutexTryFn>(false, "5Mutex13ReaderTryLockEv");
  return Acquire(this, __tsan_mutex_try_read_lock, [&] { return real(this); });
}
void Mutex::Unlock() {
  static auto real = Real<MutexFn>(false, "5Mutex6UnlockEv");
  Release(this, 0, [&] { real(this); });
}
void Mutex::ReaderUnlock() {
  static auto real = Real<MutexFn>(false, "5Mutex12ReaderUnlockEv");
  Release(this, __tsan_mutex_read_lock, [&] { real(this); });
}

// LockWhen*: the lock is held on return, timed out or not.
void Mutex::LockWhen(const Condition& cond) {
  static auto real = Real<MutexCondFn>(false, "5Mutex8LockWhenERKNS0_9ConditionE");
  Acquire(this, 0, [&] { return real(this, cond), true; });
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<MutexCondFn>(false, "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Acquire(this, __tsan_mutex_read_lock, [&] { return real(this, cond), true; });
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<MutexCondTimeoutFn>(
      false, "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool result = false;
  Acquire(this, 0, [&] { return result = real(this, cond, timeout), true; });
  return result;
}
bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<MutexCondTimeoutFn>(
      false, "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool result = false;
  Acquire(this, __tsan_mutex_read_lock, [&] { return result = real(this, cond, timeout), true; });
  return result;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real =
      Real<MutexCondDeadlineFn>(false, "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool result = false;
  Acquire(this, 0, [&] { return result = real(this, cond, deadline), true; });
  return result;
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<MutexCondDeadlineFn>(
      false, "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool result = false;
  Acquire(this, __tsan_mutex_read_lock, [&] { return result = real(this, cond, deadline), true; });
  return result;
}

void Mutex::Await(const Condition& cond) {
  static auto real = Real<MutexCondFn>(false, "5Mutex5AwaitERKNS0_9ConditionE");
  ReleaseAndReacquire(this, [&] { return real(this, cond), true; });
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real =
      Real<MutexCondTimeoutFn>(false, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return ReleaseAndReacquire(this, [&] { return real(this, cond, timeout); });
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real =
      Real<MutexCondDeadlineFn>(false, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return ReleaseAndReacquire(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>(false, "7CondVar4WaitEPNS0_5MutexE");
  ReleaseAndReacquire(mu, [&] { return real(this, mu), true; });
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      false, "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return ReleaseAndReacquire(mu, [&] { return real(this, mu, timeout); });
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      false, "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return ReleaseAndReacquire(mu, [&] { return real(this, mu, deadline); });
}

// Notify sets notified_yet_ inside the library, and the library's waits
// may see it set without locking anything: a release on that atomic before
// Notify, and an acquire after every wait that saw it, order the two for
// TSan (HasBeenNotified() reads it inline, instrumented, an acquire too).
void Notification::Notify() {
  static auto real = Real<void (*)(Notification*)>(false, "12Notification6NotifyEv");
  __tsan_release(&notified_yet_);
  real(this);
}
void Notification::WaitForNotification() const {
  static auto real =
      Real<void (*)(const Notification*)>(true, "12Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
}
bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, Duration)>(
      true, "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  return notified;
}
bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, Time)>(
      true, "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
