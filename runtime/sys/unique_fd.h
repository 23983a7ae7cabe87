// Move-only owner of a file descriptor. Header-only and free of other
// dependencies, so berth-monitor (a small static binary) uses it too.
#ifndef BERTH_RUNTIME_SYS_UNIQUE_FD_H_
#define BERTH_RUNTIME_SYS_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace berth::runtime {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the owned descriptor (if any) and takes `fd`.
  void Reset(int fd = -1) {
    if (fd_ >= 0 && fd_ != fd) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace berth::runtime

#endif  // BERTH_RUNTIME_SYS_UNIQUE_FD_H_
