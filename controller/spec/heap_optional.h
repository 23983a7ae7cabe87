#ifndef BERTH_CONTROLLER_SPEC_HEAP_OPTIONAL_H_
#define BERTH_CONTROLLER_SPEC_HEAP_OPTIONAL_H_

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace berth::controller {

// std::optional's interface (the part the spec uses) with the value on the
// heap: an absent value costs one pointer instead of sizeof(T). A
// NodeContainer is copied into every part that keeps one (the source, the
// API's view, ...), and its probes and hooks, absent from most specs, made
// up 2 kB of each copy's 2.7 kB. Copies are deep; a moved-from object is
// empty.
template <typename T>
class HeapOptional {
 public:
  using value_type = T;

  HeapOptional() = default;
  HeapOptional(std::nullopt_t) {}  // NOLINT: implicit, as std::optional's
  HeapOptional(const T& value) : value_(std::make_unique<T>(value)) {}  // NOLINT
  HeapOptional(T&& value) : value_(std::make_unique<T>(std::move(value))) {}  // NOLINT
  HeapOptional(const std::optional<T>& value)  // NOLINT
      : value_(value ? std::make_unique<T>(*value) : nullptr) {}
  HeapOptional(std::optional<T>&& value)  // NOLINT
      : value_(value ? std::make_unique<T>(std::move(*value)) : nullptr) {}

  HeapOptional(const HeapOptional& other)
      : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr) {}
  HeapOptional(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(const HeapOptional& other) {
    if (this != &other) value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
    return *this;
  }
  HeapOptional& operator=(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(std::nullopt_t) {
    value_.reset();
    return *this;
  }
  template <typename U = T,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, HeapOptional> &&
                                        !std::is_same_v<std::decay_t<U>, std::nullopt_t>>>
  HeapOptional& operator=(U&& value) {
    if (value_) {
      *value_ = std::forward<U>(value);
    } else {
      value_ = std::make_unique<T>(std::forward<U>(value));
    }
    return *this;
  }

  bool has_value() const { return value_ != nullptr; }
  explicit operator bool() const { return has_value(); }

  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return value_.get(); }
  const T* operator->() const { return value_.get(); }
  T& value() & {
    if (!value_) throw std::bad_optional_access();
    return *value_;
  }
  const T& value() const& {
    if (!value_) throw std::bad_optional_access();
    return *value_;
  }

  template <typename... Args>
  T& emplace(Args&&... args) {
    value_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *value_;
  }
  void reset() { value_.reset(); }

  friend bool operator==(const HeapOptional& a, std::nullopt_t) { return !a; }
  friend bool operator!=(const HeapOptional& a, std::nullopt_t) { return bool(a); }

 private:
  std::unique_ptr<T> value_;
};

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_HEAP_OPTIONAL_H_
