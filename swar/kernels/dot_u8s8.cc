// Method "int8": u8 activations x s8 weights, 4 K values per int32 lane;
// register tiles of up to 4 rows x 4 vectors of 16 columns on every Highway
// target: one VPDPBUSD per tile step on AVX3_DL (VNNI), an exact even/odd
// PMADDWD emulation elsewhere. Layout: swar/dot_family.h (group 4, bytes).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/kernels/dot_u8s8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/dot_tiles-inl.h"

#if defined(BITLANE_SWAR_DOT_U8S8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_DOT_U8S8_INL_H_
#undef BITLANE_SWAR_DOT_U8S8_INL_H_
#else
#define BITLANE_SWAR_DOT_U8S8_INL_H_
#endif
HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {

void DotU8S8Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                  int32_t* out, size_t ldo) {
  if (g.row_offset)
    DotTiles<BytesProduct, true>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  else
    DotTiles<BytesProduct>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();
#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::swar::detail {
namespace {

HWY_EXPORT(DotU8S8Tiles);

void kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
            int32_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(DotU8S8Tiles)(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

// bench/README.md, 64x784x512: ~600 GOPS with VNNI (AVX3_DL), ~100 on AVX2
// through the emulation, 7 on the scalar fallback; flat in the widths.
double macs_per_us(IntFormat, IntFormat, FeatureSet have) {
  if (have & kByteDot) return 3.0e5;
  return (have & kVectors512) ? 8.0e4 : (have & kVectors256) ? 5.0e4 : (have & kVectors) ? 2.5e4 : 3.0e3;
}

}  // namespace

extern const MethodSpec kInt8Method{
    "int8",
    "operands widened to bytes, 4-way u8 x s8 dot products into int32 (VPDPBUSD, emulated without VNNI)",
    kDotBlock,
    4,
    0,
    nullptr,
    [](IntFormat a, IntFormat w) { return a.bits <= 8 && w.bits <= 8; },
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
