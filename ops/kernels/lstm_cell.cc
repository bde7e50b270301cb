#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/lstm_cell.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
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

// e^x for x in [-87, 88] (clamped there: 2^q below stays a normal float,
// and e^88 < FLT_MAX): x = q ln2 + r with |r| <= ln2 / 2 (ln2 in two parts,
// Cody & Waite), e^r by Cephes' expf polynomial (about 1 ulp) by Horner's
// rule, 2^q written straight into the exponent field. 15 operations where
// Highway's Exp takes about 25 (it covers the whole float range: a two-step
// scaling, a range select, conversions both ways), and the cell spent most
// of its time in them: 2.8 -> 1.6 ns per hidden unit on Zen 4 (AVX3_DL).
template <class D, class V>
HWY_INLINE V ExpClamped(D d, V x) {
  const hn::RebindToSigned<D> di;
  x = hn::Min(hn::Max(x, hn::Set(d, -87.f)), hn::Set(d, 88.f));
  // t = x / ln2 + 1.5 * 2^23: the addition rounds x / ln2 to an integer q,
  // which then sits in t's low mantissa bits (two's complement).
  const V magic = hn::Set(d, 12582912.f);
  const V t = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
  const V q = hn::Sub(t, magic);
  V r = hn::MulAdd(q, hn::Set(d, -0.693359375f), x);
  r = hn::MulAdd(q, hn::Set(d, 2.12194440e-4f), r);
  V p = hn::MulAdd(hn::Set(d, 1.9875691500e-4f), r, hn::Set(d, 1.3981999507e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 8.3334519073e-3f));
  p = hn::MulAdd(p, r, hn::Set(d, 4.1665795894e-2f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.6666665459e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 5.0000001201e-1f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f));
  // q << 23 from t's bits (the magic number's own bits shift out), plus 127 << 23: 2^q.
  const auto two_q = hn::Add(hn::ShiftLeft<23>(hn::BitCast(di, t)), hn::Set(di, 127 << 23));
  return hn::Mul(p, hn::BitCast(d, two_q));
}

// 1 / (1 + e^-z): e^-z is at most e^87, so 1 + e^-z never overflows.
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V z) {
  return hn::Div(hn::Set(d, 1.f), hn::Add(hn::Set(d, 1.f), ExpClamped(d, hn::Neg(z))));
}

// tanh z = 1 - 2 / (1 + e^2z): within 2e-7 of tanh everywhere, in absolute
// terms (near 0 the subtraction keeps a few ulp of 1, not of z: relative
// error up to ~5e-4 for |z| ~ 1e-4). The cell adds such values to c and
// multiplies them into h, where only absolute error carries.
template <class D, class V>
HWY_INLINE V TanhCell(D d, V z) {
  const V e = ExpClamped(d, hn::Add(z, z));
  return hn::Sub(hn::Set(d, 1.f), hn::Div(hn::Set(d, 2.f), hn::Add(hn::Set(d, 1.f), e)));
}

// Two passes per block of kBlock hidden units: first every gate's
// activation (independent vectors, so the out-of-order core overlaps their
// Exp / Div chains: one vector at a time through i, f, g, o, c and h left
// it waiting on each division), then c and h.
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
        hn::Store(gate == 2 ? TanhCell(d, z) : Sigmoid(d, z), d, out + j);  // act has room for whole vectors
      }
    }
    for (size_t j = 0; j < m; j += N) {
      const auto i = hn::Load(d, act + j), f = hn::Load(d, act + kBlock + j);
      const auto g = hn::Load(d, act + 2 * kBlock + j), o = hn::Load(d, act + 3 * kBlock + j);
      const auto cn = hn::Add(hn::Mul(f, LoadUpTo(d, c + j0 + j, m - j)), hn::Mul(i, g));
      StoreUpTo(cn, d, c + j0 + j, m - j);
      StoreUpTo(hn::Mul(o, TanhCell(d, cn)), d, h + j0 + j, m - j);
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
