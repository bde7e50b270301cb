// A value built on first use, exactly once, by whichever thread asks first.
//
// Why: an op is constructed several times while a model loads (to validate
// the graph, twice to infer shapes, once per engine) but runs only inside an
// engine. What only running needs -- packed float weights, a transposed
// weight copy -- is built lazily, so the other constructions stay cheap
// (they were half the page faults of loading the MLP), and dropped again
// when a layer stops needing it (quantized after calibration).
#pragma once

#include <atomic>
#include <mutex>

namespace bitlane {

template <typename T>
class Lazy {
 public:
  // The value, made by `make()` on the first call; later calls (from any
  // thread) return the same value without calling `make`. If `make`
  // throws, nothing is kept and the next call tries again.
  template <typename Make>
  const T& get(Make&& make) const {
    if (!ready_.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!ready_.load(std::memory_order_relaxed)) {
        value_ = make();
        ready_.store(true, std::memory_order_release);
      }
    }
    return value_;
  }
  // Frees the value; the next get() makes it again. Only while no other
  // thread uses this object (an op being quantized, before it runs).
  void reset() {
    ready_.store(false, std::memory_order_relaxed);
    value_ = T{};
  }

 private:
  mutable std::mutex mutex_;
  mutable std::atomic<bool> ready_{false};
  mutable T value_{};
};

}  // namespace bitlane
