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

void LstmCell(const float* x, const float* r, float* c, float* h, int64_t hidden) {
  const hn::ScalableTag<float> d;
  const size_t n = static_cast<size_t>(hidden), N = hn::Lanes(d);
  for (size_t j = 0; j < n; j += N) {
    const size_t left = n - j;
    auto load = [&](const float* p) { return left >= N ? hn::LoadU(d, p) : LoadFirstN(d, p, left); };
    const auto i = Sigmoid(d, hn::Add(load(x + j), load(r + j)));
    const auto f = Sigmoid(d, hn::Add(load(x + n + j), load(r + n + j)));
    const auto g = hn::Tanh(d, hn::Add(load(x + 2 * n + j), load(r + 2 * n + j)));
    const auto o = Sigmoid(d, hn::Add(load(x + 3 * n + j), load(r + 3 * n + j)));
    const auto cn = hn::Add(hn::Mul(f, load(c + j)), hn::Mul(i, g));
    const auto hn_ = hn::Mul(o, hn::Tanh(d, cn));
    if (left >= N) {
      hn::StoreU(cn, d, c + j);
      hn::StoreU(hn_, d, h + j);
    } else {
      StoreFirstN(cn, d, c + j, left);
      StoreFirstN(hn_, d, h + j, left);
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
