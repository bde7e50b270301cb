// Method "int16": operands widened to 16 bits, 2 K values per int32 lane
// (PMADDWD, NEON SMULL + pairwise add); register tiles of up to 4 rows x 4
// vectors of 16 columns on every Highway target. The generic path up to 16
// bits. Layout: swar/dot_family.h (group 2, int16).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/kernels/dot_s16.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/dot_tiles-inl.h"

#if defined(BITLANE_SWAR_DOT_S16_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_DOT_S16_INL_H_
#undef BITLANE_SWAR_DOT_S16_INL_H_
#else
#define BITLANE_SWAR_DOT_S16_INL_H_
#endif
HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {

void DotS16Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                  int32_t* out, size_t ldo) {
  DotTiles<WordsProduct>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();
#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::swar::detail {
namespace {

HWY_EXPORT(DotS16Tiles);

void kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
            int32_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(DotS16Tiles)(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

// bench/README.md, 64x784x512: ~170 GOPS with 512-bit vectors, ~120 on
// AVX2, 7 on the scalar fallback; flat in the widths.
double macs_per_us(IntFormat, IntFormat, FeatureSet have, GemmShape shape) {
  const double rate = (have & kVectors512) ? 8.5e4 : (have & kVectors256) ? 6.0e4 : (have & kVectors) ? 3.0e4 : 3.4e3;
  return rate * dot_column_share(shape, have);
}

}  // namespace

extern constinit const MethodSpec kInt16Method = dot_method<kWords2>(
    "int16", "operands widened to 16 bits, 2-way int16 dot products into int32 (PMADDWD); any width up to 16", 0,
    nullptr, [](IntFormat, IntFormat) { return true; }, macs_per_us,
    [](const TileJob& job) { run_dot_tile(job, kernel, kWords2); }, false);

}  // namespace bitlane::swar::detail
#endif  // HWY_ONCE
