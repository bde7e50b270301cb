#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/lstm_cell.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "ops/kernels/lstm_cell.h"
#include "ops/kernels/partial_vectors-inl.h"

#if defined(BITLANE_OPS_LSTM_CELL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_LSTM_CELL_INL_H_
#undef BITLANE_OPS_LSTM_CELL_INL_H_
#else
#define BITLANE_OPS_LSTM_CELL_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V>
HWY_INLINE V Sigmoid(D d, V z) {
  // exp(-z) overflows to infinity past 88 (Highway's Exp is defined to 104):
  // clamp, the result is 1 / (1 + 1.6e38) = 0 either way.
  const V e = hn::Exp(d, hn::Min(hn::Neg(z), hn::Set(d, 88.f)));
  return hn::Div(hn::Set(d, 1.f), hn::Add(hn::Set(d, 1.f), e));
}

// Two passes per block of kBlock hidden units: first every gate's
// activation (independent vectors, so the out-of-order core overlaps their
// Exp / Div chains: one vector at a time through i, f, g, o, c and h left
// it waiting on each division), then c and h. The same operations on every
// element as before, so the same bits.
void LstmCell(const float* x, const float* r, float* c, float* h, int64_t hidden) {
  const hn::ScalableTag<float> d;
  constexpr size_t kBlock = 256;
  HWY_ALIGN float act[4 * kBlock];
  const size_t n = static_cast<size_t>(hidden), N = hn::Lanes(d);
  for (size_t j0 = 0; j0 < n; j0 += kBlock) {
    const size_t m = HWY_MIN(kBlock, n - j0);
    for (size_t gate = 0; gate < 4; ++gate) {
      const float* xg = x + gate * n + j0;
      const float* rg = r + gate * n + j0;
      float* out = act + gate * kBlock;
      for (size_t j = 0; j < m; j += N) {
        const auto z = hn::Add(LoadUpTo(d, xg + j, m - j), LoadUpTo(d, rg + j, m - j));
        hn::Store(gate == 2 ? hn::Tanh(d, z) : Sigmoid(d, z), d, out + j);  // act has room for whole vectors
      }
    }
    for (size_t j = 0; j < m; j += N) {
      const auto i = hn::Load(d, act + j), f = hn::Load(d, act + kBlock + j);
      const auto g = hn::Load(d, act + 2 * kBlock + j), o = hn::Load(d, act + 3 * kBlock + j);
      const auto cn = hn::Add(hn::Mul(f, LoadUpTo(d, c + j0 + j, m - j)), hn::Mul(i, g));
      StoreUpTo(cn, d, c + j0 + j, m - j);
      StoreUpTo(hn::Mul(o, hn::Tanh(d, cn)), d, h + j0 + j, m - j);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::ops::detail {

HWY_EXPORT(LstmCell);

void lstm_cell(const float* x, const float* r, float* c, float* h, int64_t hidden) {
  HWY_DYNAMIC_DISPATCH(LstmCell)(x, r, c, h, hidden);
}

}  // namespace bitlane::ops::detail
#endif  // HWY_ONCE
