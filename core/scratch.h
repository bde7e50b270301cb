// Per-thread scratch vectors that keep their largest size. A thread_local
// std::vector resized down for one layer and up again for the next
// zero-fills the regrown part on every call -- a 3 MB memset per LeNet batch
// for the accumulators alone -- although scratch is always written before
// it is read.
#pragma once

#include <cstddef>
#include <vector>

namespace bitlane {

// v's storage with room for at least n elements; contents unspecified.
template <class T>
T* grow_scratch(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace bitlane
