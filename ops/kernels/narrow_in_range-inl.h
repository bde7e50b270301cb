// NarrowInRange: int32 lanes already clamped into a narrower type's range,
// as that type, in the fewest instructions each target has (the epilogues'
// last step). Included once per target.

#if defined(BITLANE_OPS_NARROW_IN_RANGE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_NARROW_IN_RANGE_INL_H_
#undef BITLANE_OPS_NARROW_IN_RANGE_INL_H_
#else
#define BITLANE_OPS_NARROW_IN_RANGE_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Whether narrow tiles (two rows a vector) must split a vector's halves
// before narrowing it: on SVE, Highway 1.0.3's UpperHalf of a partial
// vector -- the bytes a whole vector of int32 narrows to -- does not give
// its upper half (rows r + 1 came out wrong: the epilogue test under qemu
// -cpu max), while halves of whole vectors are right.
#if HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
constexpr bool kSplitBeforeNarrowing = true;
#else
constexpr bool kSplitBeforeNarrowing = false;
#endif

// int32 lanes already clamped into T's range, as T. On AVX-512 one VPMOVDB /
// VPMOVDW truncates exactly (a saturating DemoteTo takes five instructions;
// Highway 1.0.3's TruncateTo to bytes permutes dwords instead of bytes on
// AVX3_DL, so the intrinsic is named directly); 8 lanes to bytes (AVX2) by
// two shuffles; elsewhere DemoteTo.
template <class DT, class VI>
HWY_INLINE hn::Vec<DT> NarrowInRange(DT dt, VI vi) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(hn::DFromV<VI>()) == 16) {
    if constexpr (sizeof(hn::TFromD<DT>) == 1)
      return hn::Vec<DT>{_mm512_cvtepi32_epi8(vi.raw)};
    else
      return hn::Vec<DT>{_mm512_cvtepi32_epi16(vi.raw)};
  }
#endif
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  // Eight in-range int32 to bytes: the low byte of each, gathered in two
  // shuffles (DemoteTo's saturating packs, permute and mask took four).
  if constexpr (hn::MaxLanes(hn::DFromV<VI>()) == 8 && sizeof(hn::TFromD<DT>) == 1) {
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                               0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i gathered = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(vi.raw, low_bytes),
                                                         _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    return hn::Vec<DT>{_mm256_castsi256_si128(gathered)};
  }
#endif
  return hn::DemoteTo(dt, vi);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
