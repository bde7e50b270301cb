// Method "int7": the int8 method's layout and tiles (swar/dot_family.h, group
// 4, bytes) for activations of at most 7 bits, multiplied with PMADDUBSW +
// PMADDWD (BytePairsProduct): exact because a pair of u7 x s8 products fits
// int16. For AVX2 and AVX-512 CPUs without VNNI, where the int8 method's
// exact emulation costs 9 instructions per step instead of 3; with VNNI the
// int8 method's VPDPBUSD (1 instruction) wins and is chosen.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/kernels/dot_u7s8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/dot_tiles-inl.h"

#if defined(BITLANE_SWAR_DOT_U7S8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_DOT_U7S8_INL_H_
#undef BITLANE_SWAR_DOT_U7S8_INL_H_
#else
#define BITLANE_SWAR_DOT_U7S8_INL_H_
#endif
HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {

void DotU7S8Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                  int32_t* out, size_t ldo) {
  if (g.row_offset)
    DotTiles<BytePairsProduct, true>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  else
    DotTiles<BytePairsProduct>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();
#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::swar::detail {

extern const MethodSpec kInt8Method;

namespace {

HWY_EXPORT(DotU7S8Tiles);

void kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
            int32_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(DotU7S8Tiles)(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

// bench/README.md, 64x784x512, 1 thread on a Zen 5: 253 GOPS on AVX2 (int8's
// emulation 155, int16 180), 495 on AVX3 without VNNI (int8 355, int16 343);
// below VPDPBUSD (int8, ~950) where VNNI is present.
double macs_per_us(IntFormat, IntFormat, FeatureSet have) {
  if (have & kByteDot) return 2.0e5;
  return (have & kVectors512) ? 1.6e5 : 9.0e4;
}

}  // namespace

extern const MethodSpec kInt7Method{
    "int7",
    "activations of <= 7 bits x s8 weights: PMADDUBSW pair sums (cannot saturate) + PMADDWD into int32",
    kDotBlock,
    4,
    kByteMulAdd,
    &kInt8Method,  // the same layout: runs as int8 where PMADDUBSW is missing
    [](IntFormat a, IntFormat w) { return a.bits <= 7 && w.bits <= 8; },
    macs_per_us,
    [](const MatrixView& w, PackedData& p) { pack_dot_weights(w, p, kBytes4); },
    [](const MatrixView& a, IntFormat af, const PackedData& w, const GemmOptions& o, PackedActivations& out) {
      prepare_dot_activations(a, af, w, o, out, kBytes4);
    },
    [](const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0, size_t r1) {
      return pack_dot_rows(a, w, out, r0, r1, kBytes4);
    },
    [](const TileJob& job) { run_dot_tile(job, kernel, kBytes4); },
    true};

}  // namespace bitlane::swar::detail
#endif  // HWY_ONCE
