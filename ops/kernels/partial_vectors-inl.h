// Loads and stores of the first n lanes of a vector that touch no memory past
// them, on every Highway target. Highway 1.0.3's MaskedLoad reads a whole,
// *aligned* vector on SSE4 and older (and for bytes on AVX2), and its
// BlendedStore on NEON reads and rewrites the whole vector: past the end of
// a buffer that faults, and on memory another thread writes (the next tile's
// columns, the next row) it races. Where the instructions are truly masked
// (AVX-512 and SVE; AVX2 for 32- and 64-bit lanes) they are used; elsewhere
// the lanes go through a small buffer, copied in pieces of 8, 4, 2 and 1
// bytes. (Highway's BlendedStore of bytes on AVX2, and of every lane size on
// SSE4, stores lane by lane behind a branch per lane: LeNet's first
// convolution, 6 channels, spent a quarter of its time on the AVX2 target
// storing its 6-byte rows that way.) Included once per target.

#if defined(BITLANE_OPS_PARTIAL_VECTORS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_PARTIAL_VECTORS_INL_H_
#undef BITLANE_OPS_PARTIAL_VECTORS_INL_H_
#else
#define BITLANE_OPS_PARTIAL_VECTORS_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Whether lanes of `bytes` bytes have truly masked loads and stores here.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || \
    HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
constexpr bool Masked(size_t) { return true; }
#elif HWY_TARGET == HWY_AVX2
constexpr bool Masked(size_t bytes) { return bytes >= 4; }  // VPMASKMOVD / Q
#else
constexpr bool Masked(size_t) { return false; }
#endif

// bytes (fewer than a vector's) from src to dst, in fixed-size pieces: no
// library call, at most four moves for a row of up to 15 bytes.
HWY_INLINE void CopyFew(uint8_t* HWY_RESTRICT dst, const uint8_t* HWY_RESTRICT src, size_t bytes) {
  for (; bytes >= 8; bytes -= 8, dst += 8, src += 8) std::memcpy(dst, src, 8);
  if (bytes & 4) std::memcpy(dst, src, 4), dst += 4, src += 4;
  if (bytes & 2) std::memcpy(dst, src, 2), dst += 2, src += 2;
  if (bytes & 1) *dst = *src;
}

// Lanes [0, n) from p, zeros after (n <= Lanes(d)).
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> LoadFirstN(D d, const T* HWY_RESTRICT p, size_t n) {
  if constexpr (Masked(sizeof(T))) {
    return hn::MaskedLoad(hn::FirstN(d, n), d, p);
  } else {
    HWY_ALIGN T buf[hn::MaxLanes(d)] = {};
    CopyFew(reinterpret_cast<uint8_t*>(buf), reinterpret_cast<const uint8_t*>(p), std::min(n, hn::Lanes(d)) * sizeof(T));
    return hn::Load(d, buf);
  }
}

// Lanes [0, n) of v to p; nothing else is read or written.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void StoreFirstN(hn::Vec<D> v, D d, T* HWY_RESTRICT p, size_t n) {
  if constexpr (Masked(sizeof(T))) {
    hn::BlendedStore(v, hn::FirstN(d, n), d, p);
  } else {
    HWY_ALIGN T buf[hn::MaxLanes(d)];
    hn::Store(v, d, buf);
    CopyFew(reinterpret_cast<uint8_t*>(p), reinterpret_cast<const uint8_t*>(buf), std::min(n, hn::Lanes(d)) * sizeof(T));
  }
}

// Up to n lanes: a whole vector when n >= Lanes(d), else LoadFirstN / StoreFirstN.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> LoadUpTo(D d, const T* HWY_RESTRICT p, size_t n) {
  return n >= hn::Lanes(d) ? hn::LoadU(d, p) : LoadFirstN(d, p, n);
}
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void StoreUpTo(hn::Vec<D> v, D d, T* HWY_RESTRICT p, size_t n) {
  if (n >= hn::Lanes(d)) hn::StoreU(v, d, p);
  else StoreFirstN(v, d, p, n);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
