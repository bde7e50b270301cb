// Per-target quantization of float arrays: q = clamp(round((x * inv + off) *
// half), lo, hi) with round to nearest, ties to even (as std::nearbyint), and
// half = 1 or 0.5 (binary grids). The scalar tail uses the same operations in
// the same order, so every target gives the same integers.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/quantize_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/quantize_kernels.h"

#include <algorithm>
#include <cmath>

#if defined(BITLANE_QUANT_QUANTIZE_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_QUANT_QUANTIZE_KERNELS_INL_H_
#undef BITLANE_QUANT_QUANTIZE_KERNELS_INL_H_
#else
#define BITLANE_QUANT_QUANTIZE_KERNELS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::quant::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <typename T>
HWY_INLINE void QuantizeT(const float* x, int64_t n, const QuantizeParams& p, T* out) {
  int64_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<float> df;
  const hn::Rebind<T, decltype(df)> dt;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto inv = hn::Set(df, p.inv_scale), off = hn::Set(df, p.offset), half = hn::Set(df, p.half);
  const auto lo = hn::Set(df, p.lo), hi = hn::Set(df, p.hi);
  // Clamping to the integer bounds before rounding gives what rounding first
  // gives (rounding is monotonic and keeps integers), so one conversion
  // that rounds to nearest even does both steps -- where it is an
  // instruction (CVTPS2DQ, FCVTNS); Highway emulates it elsewhere with an
  // addition of 0.5 that can round twice. x * 1 is x: the multiply by half
  // only for binary grids.
  auto quantize = [&](auto g) {
    g = hn::Min(hn::Max(g, lo), hi);
#if HWY_TARGET == HWY_EMU128
    return hn::ConvertTo(hn::Rebind<int32_t, decltype(df)>(), hn::Round(g));
#else
    return hn::NearestInt(g);
#endif
  };
  if (p.half == 1.f) {
    for (; i + N <= n; i += N)
      hn::StoreU(hn::DemoteTo(dt, quantize(hn::Add(hn::Mul(hn::LoadU(df, x + i), inv), off))), dt, out + i);
  } else {
    for (; i + N <= n; i += N)
      hn::StoreU(hn::DemoteTo(dt, quantize(hn::Mul(hn::Add(hn::Mul(hn::LoadU(df, x + i), inv), off), half))), dt,
                 out + i);
  }
#endif
  for (; i < n; ++i) {
    const float g = (x[i] * p.inv_scale + p.offset) * p.half;
    out[i] = static_cast<T>(std::clamp(std::nearbyint(g), p.lo, p.hi));
  }
}

void QuantizeU8(const float* x, int64_t n, const QuantizeParams& p, uint8_t* out) { QuantizeT(x, n, p, out); }
void QuantizeI8(const float* x, int64_t n, const QuantizeParams& p, int8_t* out) { QuantizeT(x, n, p, out); }
void QuantizeI16(const float* x, int64_t n, const QuantizeParams& p, int16_t* out) { QuantizeT(x, n, p, out); }

// Four 4-lane vectors per bound, so lane l is value l of each block of 16
// on every target (GCC 12 left the plain 16-lane loop scalar, with spills:
// 11% of building ResNet's 4-bit engine). IfThenElse, not Min/Max, whose
// NaN handling differs between targets.
void MinMax16Lanes(const float* x, int64_t n, float* lo, float* hi) {
#if HWY_TARGET != HWY_SCALAR
  const hn::FixedTag<float, 4> d;
  auto lo0 = hn::LoadU(d, lo), lo1 = hn::LoadU(d, lo + 4), lo2 = hn::LoadU(d, lo + 8), lo3 = hn::LoadU(d, lo + 12);
  auto hi0 = hn::LoadU(d, hi), hi1 = hn::LoadU(d, hi + 4), hi2 = hn::LoadU(d, hi + 8), hi3 = hn::LoadU(d, hi + 12);
  auto step = [](auto v, auto& l, auto& h) {
    l = hn::IfThenElse(hn::Lt(v, l), v, l);
    h = hn::IfThenElse(hn::Lt(h, v), v, h);
  };
  for (int64_t i = 0; i + 16 <= n; i += 16) {
    step(hn::LoadU(d, x + i), lo0, hi0);
    step(hn::LoadU(d, x + i + 4), lo1, hi1);
    step(hn::LoadU(d, x + i + 8), lo2, hi2);
    step(hn::LoadU(d, x + i + 12), lo3, hi3);
  }
  hn::StoreU(lo0, d, lo), hn::StoreU(lo1, d, lo + 4), hn::StoreU(lo2, d, lo + 8), hn::StoreU(lo3, d, lo + 12);
  hn::StoreU(hi0, d, hi), hn::StoreU(hi1, d, hi + 4), hn::StoreU(hi2, d, hi + 8), hn::StoreU(hi3, d, hi + 12);
#else
  for (int64_t i = 0; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      const float v = x[i + l];
      lo[l] = v < lo[l] ? v : lo[l];
      hi[l] = hi[l] < v ? v : hi[l];
    }
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::quant::detail
HWY_AFTER_NAMESPACE();

#endif

#if HWY_ONCE
namespace bitlane::quant::detail {

HWY_EXPORT(QuantizeU8);
HWY_EXPORT(QuantizeI8);
HWY_EXPORT(QuantizeI16);
HWY_EXPORT(MinMax16Lanes);

void quantize_u8(const float* x, int64_t n, const QuantizeParams& p, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(QuantizeU8)(x, n, p, out);
}
void quantize_i8(const float* x, int64_t n, const QuantizeParams& p, int8_t* out) {
  HWY_DYNAMIC_DISPATCH(QuantizeI8)(x, n, p, out);
}
void quantize_i16(const float* x, int64_t n, const QuantizeParams& p, int16_t* out) {
  HWY_DYNAMIC_DISPATCH(QuantizeI16)(x, n, p, out);
}
void min_max_16_lanes(const float* x, int64_t n, float* lo, float* hi) {
  HWY_DYNAMIC_DISPATCH(MinMax16Lanes)(x, n, lo, hi);
}

}  // namespace bitlane::quant::detail
#endif
