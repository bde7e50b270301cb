// Per-target SDP selection for groups of four (see sdp_kernels.h and sdp.h
// for the rule). With h_j, l_j the high and low nibbles of group lane j and
// nh the non-zero h count: if nh >= K the K best h stay and every l goes;
// otherwise every h stays and the K - nh best l. "Best" is the rank
// #{i : x_i > x_j or (x_i == x_j and i < j)} < budget.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/sdp_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/sdp.h"
#include "quant/sdp_kernels.h"

#include <algorithm>

#if defined(BITLANE_QUANT_SDP_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_QUANT_SDP_KERNELS_INL_H_
#undef BITLANE_QUANT_SDP_KERNELS_INL_H_
#else
#define BITLANE_QUANT_SDP_KERNELS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::quant::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Keeps the entries of x[] (unsigned, one vector per group lane) whose
// rank is below `budget` and that are non-zero.
template <class D, class V>
HWY_INLINE void KeepBest(D d, const V (&x)[4], V budget, hn::Mask<D> (&keep)[4]) {
  for (int j = 0; j < 4; ++j) {
    V rank = hn::Zero(d);
    for (int i = 0; i < 4; ++i) {
      if (i == j) continue;
      const auto ahead = i < j ? hn::Or(hn::Gt(x[i], x[j]), hn::Eq(x[i], x[j])) : hn::Gt(x[i], x[j]);
      rank = hn::Sub(rank, hn::VecFromMask(d, ahead));  // all-ones is -1: adds one
    }
    keep[j] = hn::And(hn::Lt(rank, budget), hn::Ne(x[j], hn::Zero(d)));
  }
}

// m[]: magnitudes (< 256) in unsigned lanes; returns them truncated.
template <class D, class V>
HWY_INLINE void SelectParts(D d, V (&m)[4], int keep) {
  const V k = hn::Set(d, static_cast<hn::TFromD<D>>(std::min(keep, 8)));
  const V low_mask = hn::Set(d, 15);
  V h[4], l[4], nh = hn::Zero(d);
  for (int j = 0; j < 4; ++j) {
    h[j] = hn::ShiftRight<4>(m[j]);
    l[j] = hn::And(m[j], low_mask);
    nh = hn::Sub(nh, hn::VecFromMask(d, hn::Ne(h[j], hn::Zero(d))));
  }
  const auto only_high = hn::Not(hn::Lt(nh, k));  // nh >= K
  hn::Mask<D> kh[4], kl[4];
  KeepBest(d, h, k, kh);
  // With nh < K the low parts get the rest of the budget (no underflow
  // matters: those lanes are discarded when nh >= K).
  KeepBest(d, l, hn::Sub(k, nh), kl);
  for (int j = 0; j < 4; ++j) {
    const auto keep_h = hn::Or(hn::And(only_high, kh[j]), hn::AndNot(only_high, hn::Ne(h[j], hn::Zero(d))));
    const auto keep_l = hn::AndNot(only_high, kl[j]);
    m[j] = hn::Or(hn::ShiftLeft<4>(hn::IfThenElseZero(keep_h, h[j])), hn::IfThenElseZero(keep_l, l[j]));
  }
}

template <typename T>
HWY_INLINE void Groups4(T* data, size_t groups, int keep) {
  size_t g = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<T> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  for (; g + N <= groups; g += N) {
    T* p = data + 4 * g;
    hn::Vec<decltype(d)> v[4];
    hn::LoadInterleaved4(d, p, v[0], v[1], v[2], v[3]);
    hn::Vec<decltype(du)> m[4];
    for (int j = 0; j < 4; ++j) m[j] = hn::BitCast(du, hn::Abs(v[j]));
    SelectParts(du, m, keep);
    for (int j = 0; j < 4; ++j) {
      const auto r = hn::BitCast(d, m[j]);
      v[j] = hn::IfThenElse(hn::Lt(v[j], hn::Zero(d)), hn::Neg(r), r);
    }
    hn::StoreInterleaved4(v[0], v[1], v[2], v[3], d, p);
  }
#endif
  for (; g < groups; ++g) sdp_truncate(data + 4 * g, 4, keep);
}

// Unsigned bytes need no sign handling (and have no Abs).
HWY_INLINE void Groups4U8(uint8_t* data, size_t groups, int keep) {
  size_t g = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint8_t> d;
  const size_t N = hn::Lanes(d);
  for (; g + N <= groups; g += N) {
    uint8_t* p = data + 4 * g;
    hn::Vec<decltype(d)> m[4];
    hn::LoadInterleaved4(d, p, m[0], m[1], m[2], m[3]);
    SelectParts(d, m, keep);
    hn::StoreInterleaved4(m[0], m[1], m[2], m[3], d, p);
  }
#endif
  for (; g < groups; ++g) sdp_truncate(data + 4 * g, 4, keep);
}

void SdpU8(uint8_t* data, size_t groups, int keep) { Groups4U8(data, groups, keep); }
void SdpI8(int8_t* data, size_t groups, int keep) { Groups4(data, groups, keep); }
void SdpI16(int16_t* data, size_t groups, int keep) { Groups4(data, groups, keep); }

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::quant::detail
HWY_AFTER_NAMESPACE();

#endif

#if HWY_ONCE
namespace bitlane::quant::detail {

HWY_EXPORT(SdpU8);
HWY_EXPORT(SdpI8);
HWY_EXPORT(SdpI16);

void sdp_groups4(uint8_t* data, size_t groups, int keep) { HWY_DYNAMIC_DISPATCH(SdpU8)(data, groups, keep); }
void sdp_groups4(int8_t* data, size_t groups, int keep) { HWY_DYNAMIC_DISPATCH(SdpI8)(data, groups, keep); }
void sdp_groups4(int16_t* data, size_t groups, int keep) { HWY_DYNAMIC_DISPATCH(SdpI16)(data, groups, keep); }

}  // namespace bitlane::quant::detail
#endif
