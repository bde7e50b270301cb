// A 64-bit content hash for cache keys (runtime/calibration_cache.h): fast
// (8 bytes per multiply) and well mixed, not cryptographic -- it tells
// apart inputs that differ, it does not resist someone crafting a collision.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace bitlane {

class Hash64 {
 public:
  explicit Hash64(uint64_t seed = 0) : h_(seed ^ kMul1) {}

  Hash64& bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    word(n);  // the length first: "ab" + "c" and "a" + "bc" differ
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, b + i, 8);
      word(w);
    }
    if (i < n) {
      uint64_t w = 0;
      std::memcpy(&w, b + i, n - i);
      word(w);
    }
    return *this;
  }
  Hash64& text(std::string_view s) { return bytes(s.data(), s.size()); }
  Hash64& word(uint64_t w) {  // MurmurHash3's x64 block step, one lane
    w *= kMul1;
    w = (w << 31) | (w >> 33);
    w *= kMul2;
    h_ ^= w;
    h_ = (h_ << 27) | (h_ >> 37);
    h_ = h_ * 5 + 0x52dce729;
    return *this;
  }
  // The state through a final avalanche (MurmurHash3's fmix64).
  uint64_t digest() const {
    uint64_t x = h_;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
  }

 private:
  static constexpr uint64_t kMul1 = 0x87c37b91114253d5ull, kMul2 = 0x4cf5ad432745937full;
  uint64_t h_;
};

}  // namespace bitlane
