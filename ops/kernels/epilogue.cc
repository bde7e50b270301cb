// Per-target epilogues (ops/kernels/epilogue.h): Highway vectors over the
// output columns of a tile row; the scalar tail is epilogue_value.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/epilogue.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/kernels/epilogue.h"
#include "ops/kernels/narrow_in_range-inl.h"
#include "ops/kernels/partial_vectors-inl.h"

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

// What a tile's rows compute, as compile-time flags (one lean row loop per
// combination): the activation, a zero-point correction (row_scale), a
// residual.
template <EpilogueAct A, bool RS, bool RES>
struct Form {
  static constexpr EpilogueAct act = A;
  static constexpr bool row_scale = RS, residual = RES;
};

template <bool RS, bool RES, class F>
HWY_INLINE void WithAct(EpilogueAct act, F&& f) {
  switch (act) {
    case EpilogueAct::kRelu: f(Form<EpilogueAct::kRelu, RS, RES>{}); break;
    case EpilogueAct::kRelu6: f(Form<EpilogueAct::kRelu6, RS, RES>{}); break;
    default: f(Form<EpilogueAct::kNone, RS, RES>{});
  }
}
template <class F>
HWY_INLINE void WithForm(const EpilogueTile& t, const EpilogueParams& p, F&& f) {
  if (p.row_scale) {
    if (t.res) WithAct<true, true>(p.act, f);
    else WithAct<true, false>(p.act, f);
  } else {
    if (t.res) WithAct<false, true>(p.act, f);
    else WithAct<false, false>(p.act, f);
  }
}

// y for one row's lanes (Mul, Add, Sub: never fused, as in epilogue_value).
template <class Fm, class D, class V>
HWY_INLINE V Values(D d, V acc, V scale, V offset, V row_scale, V ra, V res) {
  auto y = hn::Add(hn::Mul(acc, scale), offset);
  if constexpr (Fm::row_scale) y = hn::Sub(y, hn::Mul(ra, row_scale));
  if constexpr (Fm::residual) y = hn::Add(y, res);
  if constexpr (Fm::act == EpilogueAct::kRelu) return hn::Max(y, hn::Zero(d));
  if constexpr (Fm::act == EpilogueAct::kRelu6) return hn::Min(hn::Max(y, hn::Zero(d)), hn::Set(d, 6.f));
  return y;
}

// Output columns [c, c + N) of tile rows [r0, r1): emit(r, y) with y their
// values; when !kFull only the first n lanes are columns of the tile (the
// rest are computed from padding and must not be stored). The column
// parameters are loaded once, and everything the loop reads is a local, so
// the stores (of bytes, which may alias anything) force no reloads.
template <class Fm, bool kFull, class D, class Emit>
HWY_INLINE void Rows(D d, const EpilogueTile& t, const EpilogueParams& p, size_t r0, size_t r1, size_t c, size_t n,
                     Emit&& emit) {
  const hn::RebindToSigned<D> di;
  const auto scale = hn::LoadU(d, p.scale + c), offset = hn::LoadU(d, p.offset + c);
  const auto row_scale = Fm::row_scale ? hn::LoadU(d, p.row_scale + c) : hn::Zero(d);
  const int32_t* acc = t.acc + (c - t.c0);
  const size_t lda = t.lda, ldr = t.ldr;
  const float* ra = t.ra;
  const float* res = Fm::residual ? t.res + c : nullptr;
  for (size_t r = r0; r < r1; ++r) {
    // Whole vectors of sums even for a last, partial one: each row keeps 16
    // readable int32 (epilogue.h), and the padded columns' scale and offset
    // are 0. Through LoadFirstN's buffer, where loads are not masked (SSE4,
    // NEON), each row's load waited on a store it could not forward from:
    // LeNet's first convolution (6 channels) on SSE4.
    const auto a = hn::LoadU(di, acc + r * lda);
    auto rv = hn::Zero(d);
    if constexpr (Fm::residual) rv = kFull ? hn::LoadU(d, res + r * ldr) : LoadFirstN(d, res + r * ldr, n);
    const auto rav = Fm::row_scale ? hn::Set(d, ra[r]) : hn::Zero(d);
    emit(r, Values<Fm>(d, hn::ConvertTo(d, a), scale, offset, row_scale, rav, rv));
  }
}

#if HWY_TARGET != HWY_SCALAR
// Rows r (lower half) and r1 (upper; r1 == r: a last row alone) of a
// narrow tile, columns [c, c + n) (the pointers already at column c).
template <class Fm, class D, class V>
HWY_INLINE V PairValues(D d, const int32_t* acc, size_t lda, const float* res, size_t ldr, const float* ra,
                        size_t n, size_t r, size_t r1, V scale, V offset, V row_scale) {
  const hn::Half<D> dh;
  const hn::RebindToSigned<decltype(dh)> dhi;
  const auto a = hn::Combine(d, hn::ConvertTo(dh, hn::LoadU(dhi, acc + r1 * lda)),
                             hn::ConvertTo(dh, hn::LoadU(dhi, acc + r * lda)));
  auto rv = hn::Zero(d);
  if constexpr (Fm::residual)
    rv = hn::Combine(d, LoadFirstN(dh, res + r1 * ldr, n), LoadFirstN(dh, res + r * ldr, n));
  auto rav = hn::Zero(d);
  if constexpr (Fm::row_scale) rav = hn::Combine(d, hn::Set(dh, ra[r1]), hn::Set(dh, ra[r]));
  return Values<Fm>(d, a, scale, offset, row_scale, rav, rv);
}

// Tiles of at most half a vector of columns (LeNet's first convolution has
// 6): two rows per vector, row r in the lower half and r + 1 in the upper,
// so a narrow layer does not pay a whole vector of work per row. The same
// operations lane by lane, so the same results. emit(r, y, rows) gets the
// vector of rows r and r + 1, or of row r alone (rows = 1) in its lower half.
template <class Fm, class D, class Emit>
HWY_INLINE void RowPairs(D d, const EpilogueTile& t, const EpilogueParams& p, Emit&& emit) {
  const hn::Half<D> dh;
  const size_t n = t.c1 - t.c0, c = t.c0;
  const auto scale = hn::Combine(d, hn::LoadU(dh, p.scale + c), hn::LoadU(dh, p.scale + c));
  const auto offset = hn::Combine(d, hn::LoadU(dh, p.offset + c), hn::LoadU(dh, p.offset + c));
  const auto row_scale =
      Fm::row_scale ? hn::Combine(d, hn::LoadU(dh, p.row_scale + c), hn::LoadU(dh, p.row_scale + c)) : hn::Zero(d);
  // Locals only (byte stores may alias anything the loop would reread).
  const size_t lda = t.lda, ldr = t.ldr, rows = t.rows;
  const int32_t* acc = t.acc;
  const float* ra = t.ra;
  const float* res = Fm::residual ? t.res + c : nullptr;
  size_t r = 0;
  for (; r + 2 <= rows; r += 2)
    emit(r, PairValues<Fm>(d, acc, lda, res, ldr, ra, n, r, r + 1, scale, offset, row_scale), 2);
  if (r < rows) emit(r, PairValues<Fm>(d, acc, lda, res, ldr, ra, n, r, r, scale, offset, row_scale), 1);
}
#endif

// Every row and column vector of the tile: y = Values, then
// store(r, c, convert(y), n) -- column vectors outermost, rows inside, a
// last partial vector masked; narrow tiles by row pairs, whose converted
// vector is split into halves for the store (so convert runs once per pair).
template <class D, class Convert, class Store>
HWY_INLINE void ForEachVector(D d, const EpilogueTile& t, const EpilogueParams& p, Convert&& convert,
                              Store&& store) {
  const size_t N = hn::Lanes(d);
  WithForm(t, p, [&](auto fm) {
    using Fm = decltype(fm);
#if HWY_TARGET != HWY_SCALAR
    if constexpr (hn::MaxLanes(d) >= 8) {
      if (t.c1 - t.c0 <= N / 2) {
        const size_t c0 = t.c0, n = t.c1 - t.c0;
        RowPairs<Fm>(d, t, p, [=](size_t r, auto y, size_t rows) {
          if constexpr (kSplitBeforeNarrowing) {
            const hn::Half<D> dh;
            store(r, c0, convert(hn::LowerHalf(dh, y)), n);
            if (rows == 2) store(r + 1, c0, convert(hn::UpperHalf(dh, y)), n);
            return;
          }
          const auto v = convert(y);
          const hn::Half<hn::DFromV<decltype(v)>> dh;
          store(r, c0, hn::LowerHalf(dh, v), n);
          if (rows == 2) store(r + 1, c0, hn::UpperHalf(dh, v), n);
        });
        return;
      }
    }
#endif
    // Rows in blocks of 8, all column vectors of a block before the next:
    // the whole tile column by column walked every row's line at a stride
    // of ldc int32 (3 KB for the LSTM's 4 x 192 gates), 64 rows at a time --
    // from L2, 3-4x slower per value than the same tile in row blocks
    // (floats out; bytes out are bound by their conversion either way).
    const size_t block = t.c1 - t.c0 > N ? 8 : t.rows;
    for (size_t r0 = 0; r0 < t.rows; r0 += block) {
      const size_t r1 = std::min(t.rows, r0 + block);
      size_t c = t.c0;
      for (; c + N <= t.c1; c += N)
        Rows<Fm, true>(d, t, p, r0, r1, c, N, [=](size_t r, auto y) { store(r, c, convert(y), N); });
      if (c < t.c1) {
        const size_t n = t.c1 - c;
        Rows<Fm, false>(d, t, p, r0, r1, c, n, [=](size_t r, auto y) { store(r, c, convert(y), n); });
      }
    }
  });
}

void ToF32(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t ldo) {
  ForEachVector(
      hn::ScalableTag<float>(), t, p, [](auto y) { return y; },
      [=](size_t r, size_t c, auto y, size_t n) { StoreUpTo(y, hn::DFromV<decltype(y)>(), out + r * ldo + c, n); });
}

void ToF32Planes(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t plane) {
  // Blocks of up to 64 rows (pixels) x 64 columns (channels): computed into
  // a buffer, then written channel by channel (contiguous pixels).
  constexpr size_t kRows = 64, kCols = 64;
  HWY_ALIGN float buf[kRows * kCols];
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  WithForm(t, p, [&](auto fm) {
    using Fm = decltype(fm);
    for (size_t c0 = t.c0; c0 < t.c1; c0 += kCols) {
      const size_t c1 = std::min(t.c1, c0 + kCols), cols = c1 - c0;
      for (size_t r0 = 0; r0 < t.rows; r0 += kRows) {
        const size_t r1 = std::min(t.rows, r0 + kRows);
        for (size_t c = 0; c < cols; c += N) {  // whole vectors into buf (it has room), the inputs masked
          float* b = buf + c;
          auto keep = [&](size_t r, auto y) { hn::Store(y, d, b + (r - r0) * kCols); };
          if (c + N <= cols) Rows<Fm, true>(d, t, p, r0, r1, c0 + c, N, keep);
          else Rows<Fm, false>(d, t, p, r0, r1, c0 + c, cols - c, keep);
        }
        for (size_t c = 0; c < cols; ++c) {
          float* o = out + (c0 + c) * plane;
          for (size_t r = r0; r < r1; ++r) o[r] = buf[(r - r0) * kCols + c];
        }
      }
    }
  });
}

// min(max(round(g), lo), hi) as int32, round to nearest even. lo and hi
// are integers, so clamping before rounding gives the same values (NaN
// included: Max returns lo for it either way). On AVX-512 one conversion
// with embedded rounding then does both steps (Round and ConvertTo's
// overflow fix-up were 5 of the epilogue's 14 instructions per vector).
// On AVX2 and AVX-512 the lower clamp is an integer max after the
// conversion: it runs beside the float pipes (which the epilogue fills), and
// everything below lo -- past int32, -inf, and NaN, which the upper clamp
// keeps (MINPS returns its second operand) -- converts to INT32_MIN first,
// so lo again (the epilogue 10% faster on Zen 4, bench/README.md).
template <class DI, class V>
HWY_INLINE hn::Vec<DI> RoundClamped(DI di, V g, V lo, V hi) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(DI()) == 16) {
    const __m512 c = _mm512_min_ps(hi.raw, g.raw);  // NaN stays NaN
    const __m512i r = _mm512_cvt_roundps_epi32(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return hn::Vec<DI>{_mm512_max_epi32(r, _mm512_cvtps_epi32(lo.raw))};
  }
#endif
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_SSE4
  // Clamped first (8 lanes: from above), and CVTPS2DQ rounds in MXCSR's
  // mode: to nearest even, as everywhere else, unless the process changed
  // the mode (then as the scalar reference's std::nearbyint). No Round
  // before it (1 of ToU8's 16 instructions per vector on AVX2) and none of
  // ConvertTo's fix-up for values past int32.
#if HWY_TARGET != HWY_SSE4
  if constexpr (hn::MaxLanes(DI()) == 8) {
    const __m256 c = _mm256_min_ps(hi.raw, g.raw);
    return hn::Vec<DI>{_mm256_max_epi32(_mm256_cvtps_epi32(c), _mm256_cvtps_epi32(lo.raw))};
  }
#endif
  if constexpr (hn::MaxLanes(DI()) == 4) {
    const auto c = hn::Min(hn::Max(g, lo), hi);
    return hn::Vec<DI>{_mm_cvtps_epi32(c.raw)};
  }
#endif
  return hn::ConvertTo(di, hn::Min(hn::Max(hn::Round(g), lo), hi));
}

// y on the next layer's grid as T (quant::quantize's operations). kHalf:
// the grid's step is halved (binary grids); otherwise q.half is 1, and the
// multiply by it, which changes no bit, is left out.
template <typename T, bool kHalf, class V>
HWY_INLINE auto Requantize(V y, const RequantParams& q) {
  const hn::DFromV<V> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<T, decltype(d)> dt;
  auto g = hn::Add(hn::Mul(y, hn::Set(d, q.inv_scale)), hn::Set(d, q.offset));
  if constexpr (kHalf) g = hn::Mul(g, hn::Set(d, q.half));
  return NarrowInRange(dt, RoundClamped(di, g, hn::Set(d, q.lo), hn::Set(d, q.hi)));
}

template <typename T, bool kHalf>
void ToIntWith(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, T* out, size_t ldo) {
  ForEachVector(
      hn::ScalableTag<float>(), t, p,
      // Scalars by value (byte stores may alias anything a reference would
      // reread; SVE vectors cannot be captured by copy): the constants are
      // loop invariants the compiler keeps in registers.
      [=](auto y) { return Requantize<T, kHalf>(y, q); },
      [=](size_t r, size_t c, auto v, size_t n) { StoreUpTo(v, hn::DFromV<decltype(v)>(), out + r * ldo + c, n); });
}
// A ReLU before the requantizer changes no output when 0 lands at or below
// the grid's lowest value: (y * inv + off) * half is monotone in y (inv and
// half positive), so every y <= 0 -- and NaN, which the clamp's Max turns
// into lo -- gives lo with or without it. Then the clamp does its work (the
// usual case: a ReLU's output calibrated from 0 up has its zero point at lo).
inline bool ReluIsInClamp(const EpilogueParams& p, const RequantParams& q) {
  if (p.act != EpilogueAct::kRelu || !(q.inv_scale > 0.f) || !(q.half > 0.f)) return false;
  return (0.f * q.inv_scale + q.offset) * q.half <= q.lo;
}
template <typename T>
void ToInt(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, T* out, size_t ldo) {
  EpilogueParams pq = p;
  if (ReluIsInClamp(p, q)) pq.act = EpilogueAct::kNone;
  if (q.half == 1.f) ToIntWith<T, false>(t, pq, q, out, ldo);
  else ToIntWith<T, true>(t, pq, q, out, ldo);
}

// Floats and the same values on the next layer's grid (an integer twin).
template <typename T, bool kHalf>
void ToF32AndIntWith(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out, size_t ldo,
                     T* iout, size_t ildo) {
  ForEachVector(
      hn::ScalableTag<float>(), t, p, [](auto y) { return y; },
      [=](size_t r, size_t c, auto y, size_t n) {
        StoreUpTo(y, hn::DFromV<decltype(y)>(), out + r * ldo + c, n);
        const auto v = Requantize<T, kHalf>(y, q);
        StoreUpTo(v, hn::DFromV<decltype(v)>(), iout + r * ildo + c, n);
      });
}
template <typename T>
void ToF32AndInt(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out, size_t ldo,
                 T* iout, size_t ildo) {
  if (q.half == 1.f) ToF32AndIntWith<T, false>(t, p, q, out, ldo, iout, ildo);
  else ToF32AndIntWith<T, true>(t, p, q, out, ldo, iout, ildo);
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
void ToF32AndU8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out, size_t ldo,
                uint8_t* iout, size_t ildo) {
  ToF32AndInt(t, p, q, out, ldo, iout, ildo);
}
void ToF32AndI8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out, size_t ldo,
                int8_t* iout, size_t ildo) {
  ToF32AndInt(t, p, q, out, ldo, iout, ildo);
}
void ToF32AndI16(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out, size_t ldo,
                 int16_t* iout, size_t ildo) {
  ToF32AndInt(t, p, q, out, ldo, iout, ildo);
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
HWY_EXPORT(ToF32AndU8);
HWY_EXPORT(ToF32AndI8);
HWY_EXPORT(ToF32AndI16);

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
void epilogue_to_f32_and_int(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out,
                             size_t ldo, IntType type, void* iout, size_t ildo) {
  switch (type) {
    case IntType::kU8: HWY_DYNAMIC_DISPATCH(ToF32AndU8)(t, p, q, out, ldo, static_cast<uint8_t*>(iout), ildo); return;
    case IntType::kI8: HWY_DYNAMIC_DISPATCH(ToF32AndI8)(t, p, q, out, ldo, static_cast<int8_t*>(iout), ildo); return;
    case IntType::kI16: HWY_DYNAMIC_DISPATCH(ToF32AndI16)(t, p, q, out, ldo, static_cast<int16_t*>(iout), ildo); return;
  }
}

}  // namespace bitlane::ops::detail
#endif  // HWY_ONCE
