// Requantizing onto grids of at most 4 integers by thresholds on the sums
// (ops/kernels/epilogue.h, EpilogueSteps): the thresholds by bisection over
// the scalar definition, the per-target kernels that count them.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/epilogue_steps.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/kernels/epilogue.h"
#include "ops/kernels/narrow_in_range-inl.h"
#include "ops/kernels/partial_vectors-inl.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(BITLANE_OPS_EPILOGUE_STEPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_EPILOGUE_STEPS_INL_H_
#undef BITLANE_OPS_EPILOGUE_STEPS_INL_H_
#else
#define BITLANE_OPS_EPILOGUE_STEPS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The grid's integer from L thresholds: lo + L less one for each threshold
// not met (a compare gives -1 where true). On AVX-512, where compares give
// masks, three by one step of a binary search, as the thresholds rise: below
// t1 the count is [a >= t0], from t1 on 2 + [a >= t2] -- two compares and
// two blends where three took three mask-to-vector moves and adds too (on
// Intel's cores the 2-bit epilogue cost more than the float requantizer it
// replaces: 22.7% of LeNet's samples at 2 bits against 20.0% at 8). Not on
// AVX2, where compares give vectors and the blends cost more (LeNet at 2
// bits 4% slower that way): bench/README.md, thirty-sixth session.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr bool kBisectThree = true;
#else
constexpr bool kBisectThree = false;
#endif
template <size_t L, class DI, class V>
HWY_INLINE V CountSteps(DI di, V a, V t0, V t1, V t2, int32_t lo) {
  if constexpr (L == 3 && kBisectThree) {
    const auto below = hn::Lt(a, t1);
    const V base = hn::IfThenElse(below, hn::Set(di, lo + 1), hn::Set(di, lo + 3));
    return hn::Add(base, hn::VecFromMask(di, hn::Lt(a, hn::IfThenElse(below, t0, t2))));
  }
  auto q = hn::Add(hn::Set(di, lo + static_cast<int32_t>(L)), hn::VecFromMask(di, hn::Lt(a, t0)));
  if constexpr (L >= 2) q = hn::Add(q, hn::VecFromMask(di, hn::Lt(a, t1)));
  if constexpr (L >= 3) q = hn::Add(q, hn::VecFromMask(di, hn::Lt(a, t2)));
  return q;
}

// Every row and column vector of the tile on thresholds, as ForEachVector:
// column vectors outermost, narrow tiles by row pairs.
template <size_t L, typename T>
void StepsWith(const EpilogueTile& t, const EpilogueSteps& s, T* out, size_t ldo) {
  const hn::ScalableTag<int32_t> di;
  const hn::Rebind<T, decltype(di)> dt;
  const size_t N = hn::Lanes(di), lda = t.lda;
  const int32_t* acc = t.acc;
  const int32_t* th = s.t.data();
  const size_t ld = s.ld;
  const int32_t lo = s.lo;
#if HWY_TARGET != HWY_SCALAR
  if constexpr (hn::MaxLanes(di) >= 8) {
    if (t.c1 - t.c0 <= N / 2) {  // two rows a vector, as RowPairs
      const hn::Half<decltype(di)> dh;
      const size_t c = t.c0, n = t.c1 - t.c0;
      auto both = [&](const int32_t* p) { return hn::Combine(di, hn::LoadU(dh, p), hn::LoadU(dh, p)); };
      const auto t0 = both(th + c), t1 = L >= 2 ? both(th + ld + c) : t0, t2 = L >= 3 ? both(th + 2 * ld + c) : t0;
      const hn::Half<decltype(dt)> dth;
      size_t r = 0;
      for (; r + 2 <= t.rows; r += 2) {
        const auto a = hn::Combine(di, hn::LoadU(dh, acc + (r + 1) * lda), hn::LoadU(dh, acc + r * lda));
        const auto q = CountSteps<L>(di, a, t0, t1, t2, lo);
        if constexpr (kSplitBeforeNarrowing) {
          StoreUpTo(NarrowInRange(dth, hn::LowerHalf(dh, q)), dth, out + r * ldo + c, n);
          StoreUpTo(NarrowInRange(dth, hn::UpperHalf(dh, q)), dth, out + (r + 1) * ldo + c, n);
          continue;
        }
        const auto v = NarrowInRange(dt, q);
        StoreUpTo(hn::LowerHalf(dth, v), dth, out + r * ldo + c, n);
        StoreUpTo(hn::UpperHalf(dth, v), dth, out + (r + 1) * ldo + c, n);
      }
      if (r < t.rows) {
        const auto a = hn::Combine(di, hn::LoadU(dh, acc + r * lda), hn::LoadU(dh, acc + r * lda));
        const auto v = NarrowInRange(dt, CountSteps<L>(di, a, t0, t1, t2, lo));
        StoreUpTo(hn::LowerHalf(dth, v), dth, out + r * ldo + c, n);
      }
      return;
    }
  }
#endif
  for (size_t c = t.c0; c < t.c1; c += N) {
    const size_t n = std::min(N, t.c1 - c);
    const auto t0 = hn::LoadU(di, th + c), t1 = L >= 2 ? hn::LoadU(di, th + ld + c) : t0,
               t2 = L >= 3 ? hn::LoadU(di, th + 2 * ld + c) : t0;
    for (size_t r = 0; r < t.rows; ++r) {
      const auto a = hn::LoadU(di, acc + r * lda + (c - t.c0));
      StoreUpTo(NarrowInRange(dt, CountSteps<L>(di, a, t0, t1, t2, lo)), dt, out + r * ldo + c, n);
    }
  }
}
template <typename T>
void Steps(const EpilogueTile& t, const EpilogueSteps& s, T* out, size_t ldo) {
  switch (s.levels) {
    case 1: StepsWith<1>(t, s, out, ldo); break;
    case 2: StepsWith<2>(t, s, out, ldo); break;
    default: StepsWith<3>(t, s, out, ldo);
  }
}
void StepsToU8(const EpilogueTile& t, const EpilogueSteps& s, uint8_t* out, size_t ldo) { Steps(t, s, out, ldo); }
void StepsToI8(const EpilogueTile& t, const EpilogueSteps& s, int8_t* out, size_t ldo) { Steps(t, s, out, ldo); }

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::ops::detail {

HWY_EXPORT(StepsToU8);
HWY_EXPORT(StepsToI8);

void epilogue_steps_to_u8(const EpilogueTile& t, const EpilogueSteps& s, uint8_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(StepsToU8)(t, s, out, ldo);
}
void epilogue_steps_to_i8(const EpilogueTile& t, const EpilogueSteps& s, int8_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(StepsToI8)(t, s, out, ldo);
}

EpilogueSteps epilogue_steps(const EpilogueParams& p, const RequantParams& q, size_t n, int64_t bound) {
  EpilogueSteps s;
  const float levels = q.hi - q.lo;
  if (p.row_scale || !(levels >= 1 && levels <= 3) || !(q.inv_scale > 0) || !(q.half > 0) || !std::isfinite(q.offset) ||
      bound < 0 || bound >= std::numeric_limits<int32_t>::max())
    return s;
  for (size_t c = 0; c < n; ++c)
    if (!(p.scale[c] >= 0) || !std::isfinite(p.scale[c]) || !std::isfinite(p.offset[c])) return s;
  s.levels = static_cast<size_t>(levels);
  s.ld = n + 64;  // whole vectors past the last column read thresholds never met
  s.lo = static_cast<int32_t>(q.lo);
  s.t.assign(s.levels * s.ld, std::numeric_limits<int32_t>::max());
  for (size_t c = 0; c < n; ++c) {
    auto value = [&](int64_t a) { return requantized_value(epilogue_value(static_cast<int32_t>(a), c, 0.f, p), q); };
    for (size_t j = 0; j < s.levels; ++j) {
      // The least sum in [-bound, bound] whose value reaches lo + j + 1
      // (bound + 1: none does), by bisection: the value never falls as
      // the sum grows.
      const float want = q.lo + static_cast<float>(j + 1);
      int64_t lo = -bound, hi = bound + 1;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (value(mid) >= want) hi = mid;
        else lo = mid + 1;
      }
      s.t[j * s.ld + c] = static_cast<int32_t>(lo);
    }
  }
  return s;
}

}  // namespace bitlane::ops::detail
#endif  // HWY_ONCE
