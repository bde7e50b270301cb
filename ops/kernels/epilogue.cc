// Per-target epilogues (ops/kernels/epilogue.h): Highway vectors over the
// output columns of a tile row; the scalar tail is epilogue_value.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/epilogue.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/kernels/epilogue.h"

#include <algorithm>
#include <cmath>

#if defined(BITLANE_OPS_EPILOGUE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_EPILOGUE_INL_H_
#undef BITLANE_OPS_EPILOGUE_INL_H_
#else
#define BITLANE_OPS_EPILOGUE_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The per-column parameters of lanes [c, c + N), loaded once for all rows.
template <class D>
struct Columns {
  hn::Vec<D> scale, offset, row_scale;
  Columns(D d, size_t c, const EpilogueParams& p)
      : scale(hn::LoadU(d, p.scale + c)), offset(hn::LoadU(d, p.offset + c)),
        row_scale(p.row_scale ? hn::LoadU(d, p.row_scale + c) : hn::Zero(d)) {}
};

// y for one row's lanes (Mul, Add, Sub: never fused, as in epilogue_value).
template <class D, class VI>
HWY_INLINE hn::Vec<D> Values(D d, VI acc, const Columns<D>& k, float ra, const EpilogueParams& p) {
  auto y = hn::Add(hn::Mul(hn::ConvertTo(d, acc), k.scale), k.offset);
  if (p.row_scale) y = hn::Sub(y, hn::Mul(hn::Set(d, ra), k.row_scale));
  switch (p.act) {
    case EpilogueAct::kRelu: return hn::Max(y, hn::Zero(d));
    case EpilogueAct::kRelu6: return hn::Min(hn::Max(y, hn::Zero(d)), hn::Set(d, 6.f));
    default: return y;
  }
}
template <class D, class VI>
HWY_INLINE hn::Vec<D> Values(D d, VI acc, size_t c, float ra, const EpilogueParams& p) {
  return Values(d, acc, Columns<D>(d, c, p), ra, p);
}

// Column vectors outermost (parameters loaded once), rows inside; a last,
// partial vector of columns is masked.
void ToF32(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t ldo) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  for (size_t c = t.c0; c < t.c1; c += N) {
    const Columns<hn::ScalableTag<float>> k(d, c, p);
    const size_t a0 = c - t.c0;
    if (c + N <= t.c1) {
      for (size_t r = 0; r < t.rows; ++r)
        hn::StoreU(Values(d, hn::LoadU(di, t.acc + r * t.lda + a0), k, t.ra ? t.ra[r] : 0.f, p), d,
                   out + r * ldo + c);
    } else {
      const auto m = hn::FirstN(d, t.c1 - c);
      const auto mi = hn::RebindMask(di, m);
      for (size_t r = 0; r < t.rows; ++r)
        hn::BlendedStore(Values(d, hn::MaskedLoad(mi, di, t.acc + r * t.lda + a0), k, t.ra ? t.ra[r] : 0.f, p), m,
                         d, out + r * ldo + c);
    }
  }
}

void ToF32Planes(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t plane) {
  // Blocks of up to 64 rows (pixels) x 64 columns (channels): computed row by
  // row into a buffer, then written channel by channel (contiguous pixels).
  constexpr size_t kRows = 64, kCols = 64;
  HWY_ALIGN float buf[kRows * kCols];
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  for (size_t c0 = t.c0; c0 < t.c1; c0 += kCols) {
    const size_t c1 = std::min(t.c1, c0 + kCols), cols = c1 - c0;
    for (size_t r0 = 0; r0 < t.rows; r0 += kRows) {
      const size_t r1 = std::min(t.rows, r0 + kRows);
      for (size_t r = r0; r < r1; ++r) {
        const int32_t* a = t.acc + r * t.lda + (c0 - t.c0);
        const float ra = t.ra ? t.ra[r] : 0.f;
        float* b = buf + (r - r0) * kCols;
        size_t c = 0;
        for (; c + N <= cols; c += N) hn::Store(Values(d, hn::LoadU(di, a + c), c0 + c, ra, p), d, b + c);
        if (c < cols) {  // the columns left, in one masked step (p's arrays are padded)
          const auto m = hn::FirstN(d, cols - c);
          const auto v = Values(d, hn::MaskedLoad(hn::RebindMask(di, m), di, a + c), c0 + c, ra, p);
          hn::BlendedStore(v, m, d, b + c);
        }
      }
      for (size_t c = 0; c < cols; ++c) {
        float* o = out + (c0 + c) * plane;
        for (size_t r = r0; r < r1; ++r) o[r] = buf[(r - r0) * kCols + c];
      }
    }
  }
}

template <typename T>
void ToInt(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, T* out, size_t ldo) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<T, decltype(d)> dt;
  const size_t N = hn::Lanes(d);
  const auto inv = hn::Set(d, q.inv_scale), off = hn::Set(d, q.offset), half = hn::Set(d, q.half);
  const auto lo = hn::Set(d, q.lo), hi = hn::Set(d, q.hi);
  auto requant = [&](hn::Vec<hn::ScalableTag<float>> y) {
    auto g = hn::Mul(hn::Add(hn::Mul(y, inv), off), half);
    g = hn::Min(hn::Max(hn::Round(g), lo), hi);
    return hn::DemoteTo(dt, hn::ConvertTo(di, g));
  };
  for (size_t c = t.c0; c < t.c1; c += N) {
    const Columns<hn::ScalableTag<float>> k(d, c, p);
    const size_t a0 = c - t.c0;
    if (c + N <= t.c1) {
      for (size_t r = 0; r < t.rows; ++r)
        hn::StoreU(requant(Values(d, hn::LoadU(di, t.acc + r * t.lda + a0), k, t.ra ? t.ra[r] : 0.f, p)), dt,
                   out + r * ldo + c);
    } else {
      const auto mi = hn::RebindMask(di, hn::FirstN(d, t.c1 - c));
      const auto mt = hn::FirstN(dt, t.c1 - c);
      for (size_t r = 0; r < t.rows; ++r)
        hn::BlendedStore(requant(Values(d, hn::MaskedLoad(mi, di, t.acc + r * t.lda + a0), k, t.ra ? t.ra[r] : 0.f, p)),
                         mt, dt, out + r * ldo + c);
    }
  }
}

void ToU8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, uint8_t* out, size_t ldo) {
  ToInt(t, p, q, out, ldo);
}
void ToI8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, int8_t* out, size_t ldo) {
  ToInt(t, p, q, out, ldo);
}
void ToI16(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, int16_t* out, size_t ldo) {
  ToInt(t, p, q, out, ldo);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::ops::detail {

HWY_EXPORT(ToF32);
HWY_EXPORT(ToF32Planes);
HWY_EXPORT(ToU8);
HWY_EXPORT(ToI8);
HWY_EXPORT(ToI16);

void epilogue_to_f32(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(ToF32)(t, p, out, ldo);
}
void epilogue_to_f32_planes(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t plane) {
  HWY_DYNAMIC_DISPATCH(ToF32Planes)(t, p, out, plane);
}
void epilogue_to_u8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, uint8_t* out,
                    size_t ldo) {
  HWY_DYNAMIC_DISPATCH(ToU8)(t, p, q, out, ldo);
}
void epilogue_to_i8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, int8_t* out,
                    size_t ldo) {
  HWY_DYNAMIC_DISPATCH(ToI8)(t, p, q, out, ldo);
}
void epilogue_to_i16(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, int16_t* out,
                     size_t ldo) {
  HWY_DYNAMIC_DISPATCH(ToI16)(t, p, q, out, ldo);
}

}  // namespace bitlane::ops::detail
#endif  // HWY_ONCE
