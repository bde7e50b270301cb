// A value built on first use, exactly once, by whichever thread asks first.
//
// Why: an op is constructed several times while a model loads (to validate
// the graph, twice to infer shapes, once per engine) but runs only inside an
// engine. What only running needs -- packed float weights, a transposed
// weight copy -- is built lazily, so the other constructions stay cheap
// (they were half the page faults of loading the MLP).
#pragma once

#include <mutex>

namespace bitlane {

template <typename T>
class Lazy {
 public:
  // The value, made by `make()` on the first call; later calls (from any
  // thread) return the same value without calling `make`.
  template <typename Make>
  const T& get(Make&& make) const {
    std::call_once(once_, [&] { value_ = make(); });
    return value_;
  }

 private:
  mutable std::once_flag once_;
  mutable T value_{};
};

}  // namespace bitlane
