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

// y for one row's lanes (Mul, Add, Sub: never fused, as in epilogue_value),
// with the columns' parameters loaded once for all rows (plain vectors, not
// a struct: SVE vectors are sizeless); res: the residual row's lanes.
template <class D, class V, class VI>
HWY_INLINE V Values(D d, VI acc, V scale, V offset, V row_scale, float ra, const EpilogueParams& p,
                    const V* res = nullptr) {
  auto y = hn::Add(hn::Mul(hn::ConvertTo(d, acc), scale), offset);
  if (p.row_scale) y = hn::Sub(y, hn::Mul(hn::Set(d, ra), row_scale));
  if (res) y = hn::Add(y, *res);
  switch (p.act) {
    case EpilogueAct::kRelu: return hn::Max(y, hn::Zero(d));
    case EpilogueAct::kRelu6: return hn::Min(hn::Max(y, hn::Zero(d)), hn::Set(d, 6.f));
    default: return y;
  }
}

#define BL_COLUMNS(c)                                 \
  const auto scale = hn::LoadU(d, p.scale + (c));     \
  const auto offset = hn::LoadU(d, p.offset + (c));   \
  const auto row_scale = p.row_scale ? hn::LoadU(d, p.row_scale + (c)) : hn::Zero(d);

// Column vectors outermost (parameters loaded once), rows inside; a last,
// partial vector of columns is masked.
void ToF32(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t ldo) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  for (size_t c = t.c0; c < t.c1; c += N) {
    BL_COLUMNS(c)
    const size_t a0 = c - t.c0;
    const auto m = hn::FirstN(d, t.c1 - c);
    const auto mi = hn::RebindMask(di, m);
    const bool full = c + N <= t.c1;
    for (size_t r = 0; r < t.rows; ++r) {
      const auto acc = full ? hn::LoadU(di, t.acc + r * t.lda + a0) : hn::MaskedLoad(mi, di, t.acc + r * t.lda + a0);
      hn::Vec<decltype(d)> res;
      if (t.res) res = full ? hn::LoadU(d, t.res + r * t.ldr + c) : hn::MaskedLoad(m, d, t.res + r * t.ldr + c);
      const auto y = Values(d, acc, scale, offset, row_scale, t.ra ? t.ra[r] : 0.f, p, t.res ? &res : nullptr);
      if (full)
        hn::StoreU(y, d, out + r * ldo + c);
      else
        hn::BlendedStore(y, m, d, out + r * ldo + c);
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
        const float* rr = t.res ? t.res + r * t.ldr + c0 : nullptr;
        for (size_t c = 0; c < cols; c += N) {  // the last, partial vector masked (p's arrays are padded)
          const auto m = hn::FirstN(d, cols - c);
          const bool full = c + N <= cols;
          const auto acc = full ? hn::LoadU(di, a + c) : hn::MaskedLoad(hn::RebindMask(di, m), di, a + c);
          hn::Vec<decltype(d)> res;
          if (rr) res = full ? hn::LoadU(d, rr + c) : hn::MaskedLoad(m, d, rr + c);
          BL_COLUMNS(c0 + c)
          const auto v = Values(d, acc, scale, offset, row_scale, ra, p, rr ? &res : nullptr);
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
    BL_COLUMNS(c)
    const size_t a0 = c - t.c0;
    const auto m = hn::FirstN(d, t.c1 - c);
    const auto mi = hn::RebindMask(di, m);
    const auto mt = hn::FirstN(dt, t.c1 - c);
    const bool full = c + N <= t.c1;
    for (size_t r = 0; r < t.rows; ++r) {
      const auto acc = full ? hn::LoadU(di, t.acc + r * t.lda + a0) : hn::MaskedLoad(mi, di, t.acc + r * t.lda + a0);
      hn::Vec<decltype(d)> res;
      if (t.res) res = full ? hn::LoadU(d, t.res + r * t.ldr + c) : hn::MaskedLoad(m, d, t.res + r * t.ldr + c);
      const auto q8 = requant(Values(d, acc, scale, offset, row_scale, t.ra ? t.ra[r] : 0.f, p, t.res ? &res : nullptr));
      if (full)
        hn::StoreU(q8, dt, out + r * ldo + c);
      else
        hn::BlendedStore(q8, mt, dt, out + r * ldo + c);
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

#undef BL_COLUMNS

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
