// Per-target exponential encoding: each cut-off is one compare per vector,
// so a code costs (levels - 1) / lanes compares instead of a logarithm.
// Wide codes (more than 128 cut-offs) use the scalar binary search.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/exp_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/exp_kernels.h"

#include <algorithm>
#include <cmath>

#if defined(BITLANE_QUANT_EXP_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_QUANT_EXP_KERNELS_INL_H_
#undef BITLANE_QUANT_EXP_KERNELS_INL_H_
#else
#define BITLANE_QUANT_EXP_KERNELS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::quant::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void EncodeDecode(const float* x, size_t n, float zero_cut, const float* cuts, size_t ncuts, const float* level,
                  float* values, int16_t* codes) {
  size_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  if (ncuts <= 128) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<int16_t, decltype(df)> d16;
    const size_t N = hn::Lanes(df);
    const auto zc = hn::Set(df, zero_cut);
    for (; i + N <= n; i += N) {
      const auto v = hn::LoadU(df, x + i);
      const auto t = hn::Abs(v);
      auto count = hn::Zero(di);
      for (size_t j = 0; j < ncuts; ++j)
        count = hn::Sub(count, hn::VecFromMask(di, hn::RebindMask(di, hn::Ge(t, hn::Set(df, cuts[j])))));
      const auto nonzero = hn::Ge(t, zc);  // false for NaN
      // The level with x's sign flipped in: negative levels (beta < 0) stay right.
      const auto value = hn::Xor(hn::GatherIndex(df, level, count), hn::And(v, hn::SignBit(df)));
      hn::StoreU(hn::IfThenElseZero(nonzero, value), df, values + i);
      if (codes) {
        auto code = hn::Add(count, hn::Set(di, 1));
        code = hn::IfThenElse(hn::RebindMask(di, hn::Lt(v, hn::Zero(df))), hn::Neg(code), code);
        code = hn::IfThenElseZero(hn::RebindMask(di, nonzero), code);
        hn::StoreU(hn::DemoteTo(d16, code), d16, codes + i);
      }
    }
  }
#endif
  for (; i < n; ++i) {
    const float t = std::abs(x[i]);
    int16_t c = 0;
    if (t >= zero_cut) c = static_cast<int16_t>(1 + (std::upper_bound(cuts, cuts + ncuts, t) - cuts));
    values[i] = c ? (x[i] < 0 ? -level[c - 1] : level[c - 1]) : 0.f;
    if (codes) codes[i] = x[i] < 0 ? static_cast<int16_t>(-c) : c;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::quant::detail
HWY_AFTER_NAMESPACE();

#endif

#if HWY_ONCE
namespace bitlane::quant::detail {

HWY_EXPORT(EncodeDecode);

void exp_encode_decode(const float* x, size_t n, float zero_cut, const float* cuts, size_t ncuts,
                       const float* level, float* values, int16_t* codes) {
  HWY_DYNAMIC_DISPATCH(EncodeDecode)(x, n, zero_cut, cuts, ncuts, level, values, codes);
}

}  // namespace bitlane::quant::detail
#endif
