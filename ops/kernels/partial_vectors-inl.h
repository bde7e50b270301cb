// Loads and stores of the first n lanes of a vector that touch no memory past
// them, on every Highway target. Highway 1.0.3's MaskedLoad reads a whole,
// *aligned* vector on SSE4 and older (and for bytes on AVX2), and its
// BlendedStore on NEON reads and rewrites the whole vector: past the end of
// a buffer that faults, and on memory another thread writes (the next tile's
// columns, the next row) it races. Where the instructions are truly masked
// (AVX-512, AVX2 for 32-bit lanes, SVE; x86 stores) they are used; elsewhere
// the lanes go through a small buffer. Included once per target.

#if defined(BITLANE_OPS_PARTIAL_VECTORS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_PARTIAL_VECTORS_INL_H_
#undef BITLANE_OPS_PARTIAL_VECTORS_INL_H_
#else
#define BITLANE_OPS_PARTIAL_VECTORS_INL_H_
#endif

#include <algorithm>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || \
    HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
inline constexpr bool kMaskedLoads = true, kMaskedStores = true;
#elif HWY_TARGET == HWY_AVX2
inline constexpr bool kMaskedLoads = true, kMaskedStores = true;  // loads: 32- and 64-bit lanes only
#elif HWY_ARCH_X86
inline constexpr bool kMaskedLoads = false, kMaskedStores = true;  // stores lane by lane
#else
inline constexpr bool kMaskedLoads = false, kMaskedStores = false;
#endif

// Lanes [0, n) from p, zeros after (n <= Lanes(d)).
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> LoadFirstN(D d, const T* HWY_RESTRICT p, size_t n) {
  if constexpr (kMaskedLoads && (HWY_TARGET != HWY_AVX2 || sizeof(T) >= 4)) {
    return hn::MaskedLoad(hn::FirstN(d, n), d, p);
  } else {
    HWY_ALIGN T buf[hn::MaxLanes(d)] = {};
    std::memcpy(buf, p, std::min(n, hn::Lanes(d)) * sizeof(T));
    return hn::Load(d, buf);
  }
}

// Lanes [0, n) of v to p; nothing else is read or written.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void StoreFirstN(hn::Vec<D> v, D d, T* HWY_RESTRICT p, size_t n) {
  if constexpr (kMaskedStores) {
    hn::BlendedStore(v, hn::FirstN(d, n), d, p);
  } else {
    HWY_ALIGN T buf[hn::MaxLanes(d)];
    hn::Store(v, d, buf);
    std::memcpy(p, buf, std::min(n, hn::Lanes(d)) * sizeof(T));
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
