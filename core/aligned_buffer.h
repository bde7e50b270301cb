// A zero-initialised, 64-byte aligned array of trivially copyable elements:
// packed weights and workspaces live here so SIMD loads are aligned and
// padding lanes are defined (zero) rather than garbage.
//
// Blocks of 1 MiB and more (weights, their packed copies, calibration
// batches) are 2 MiB aligned, rounded up to 2 MiB and advised to use
// transparent huge pages where the kernel offers them (core/aligned_
// buffer.cc): faulting their 4 KiB pages in one by one (~8 us each on this
// project's VMs) was over a third of loading the bundled MLP at 4 bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace bitlane {
namespace detail {

// `bytes` (a multiple of 64) of zeros, at least 64-byte aligned, for
// std::free; null if there is no such memory.
void* allocate_zeroed(size_t bytes);

}  // namespace detail

template <typename T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { resize(n); }
  AlignedBuffer(const AlignedBuffer& o) : AlignedBuffer(o.size_) {
    if (size_) std::memcpy(data_, o.data_, size_ * sizeof(T));
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  ~AlignedBuffer() { std::free(data_); }

  // Discards the contents; the new elements are all zero.
  void resize(size_t n) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (n == 0) return;
    if (n > (SIZE_MAX - kAlignment) / sizeof(T)) throw std::bad_alloc();
    const size_t bytes = (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    data_ = static_cast<T*>(detail::allocate_zeroed(bytes));
    if (!data_) throw std::bad_alloc();
    size_ = n;
  }
  // Grows (never shrinks) a scratch buffer; contents are unspecified.
  void reserve_scratch(size_t n) {
    if (n > size_) resize(n);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace bitlane
