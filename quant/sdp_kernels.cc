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

// Vectors are passed one by one, never in arrays: SVE vectors are sizeless
// types, which arrays and structs cannot hold.

// -1 (all ones) in lanes where a ranks ahead of b: larger, or equal and
// earlier in the group.
template <class D, class V>
HWY_INLINE V AheadOf(D d, V a, V b, bool a_earlier) {
  const auto gt = hn::Gt(a, b);
  return hn::VecFromMask(d, a_earlier ? hn::Or(gt, hn::Eq(a, b)) : gt);
}

// Whether x, entry j of the group x0..x3 (unsigned), is non-zero and ranks
// below `budget`.
template <class D, class V>
HWY_INLINE hn::Mask<D> Kept(D d, V x, int j, V x0, V x1, V x2, V x3, V budget) {
  V rank = hn::Zero(d);
  if (j != 0) rank = hn::Sub(rank, AheadOf(d, x0, x, 0 < j));
  if (j != 1) rank = hn::Sub(rank, AheadOf(d, x1, x, 1 < j));
  if (j != 2) rank = hn::Sub(rank, AheadOf(d, x2, x, 2 < j));
  if (j != 3) rank = hn::Sub(rank, AheadOf(d, x3, x, 3 < j));
  return hn::And(hn::Lt(rank, budget), hn::Ne(x, hn::Zero(d)));
}

// Nibbles (h0..h3, l0..l3) of a group and the number nh of non-zero high
// nibbles, shared by the four entries.
template <class D, class V>
HWY_INLINE V KeepParts(D d, int j, V h0, V h1, V h2, V h3, V l0, V l1, V l2, V l3, V nh, V k) {
  const V zero = hn::Zero(d);
  const V h = j == 0 ? h0 : j == 1 ? h1 : j == 2 ? h2 : h3;
  const V l = j == 0 ? l0 : j == 1 ? l1 : j == 2 ? l2 : l3;
  const auto only_high = hn::Not(hn::Lt(nh, k));  // nh >= K
  const auto kh = Kept(d, h, j, h0, h1, h2, h3, k);
  // With nh < K the low parts get the rest of the budget (no underflow
  // matters: those lanes are discarded when nh >= K).
  const auto kl = Kept(d, l, j, l0, l1, l2, l3, hn::Sub(k, nh));
  const auto keep_h = hn::Or(hn::And(only_high, kh), hn::AndNot(only_high, hn::Ne(h, zero)));
  const auto keep_l = hn::AndNot(only_high, kl);
  return hn::Or(hn::ShiftLeft<4>(hn::IfThenElseZero(keep_h, h)), hn::IfThenElseZero(keep_l, l));
}

// m0..m3: magnitudes (< 256) in unsigned lanes, one vector per group entry;
// truncated in place.
template <class D, class V>
HWY_INLINE void SelectParts(D d, V& m0, V& m1, V& m2, V& m3, int keep) {
  const V k = hn::Set(d, static_cast<hn::TFromD<D>>(std::min(keep, 8)));
  const V low_mask = hn::Set(d, 15);
  const V zero = hn::Zero(d);
  const V h0 = hn::ShiftRight<4>(m0), h1 = hn::ShiftRight<4>(m1);
  const V h2 = hn::ShiftRight<4>(m2), h3 = hn::ShiftRight<4>(m3);
  const V l0 = hn::And(m0, low_mask), l1 = hn::And(m1, low_mask);
  const V l2 = hn::And(m2, low_mask), l3 = hn::And(m3, low_mask);
  V nh = hn::Sub(zero, hn::VecFromMask(d, hn::Ne(h0, zero)));
  nh = hn::Sub(nh, hn::VecFromMask(d, hn::Ne(h1, zero)));
  nh = hn::Sub(nh, hn::VecFromMask(d, hn::Ne(h2, zero)));
  nh = hn::Sub(nh, hn::VecFromMask(d, hn::Ne(h3, zero)));
  m0 = KeepParts(d, 0, h0, h1, h2, h3, l0, l1, l2, l3, nh, k);
  m1 = KeepParts(d, 1, h0, h1, h2, h3, l0, l1, l2, l3, nh, k);
  m2 = KeepParts(d, 2, h0, h1, h2, h3, l0, l1, l2, l3, nh, k);
  m3 = KeepParts(d, 3, h0, h1, h2, h3, l0, l1, l2, l3, nh, k);
}

// Sign-magnitude round trip of one group entry: |v| through the unsigned
// selection, the sign restored.
template <class DU, class V>
HWY_INLINE hn::Vec<DU> Magnitude(DU du, V v) {
  return hn::BitCast(du, hn::Abs(v));
}
template <class D, class V, class VU>
HWY_INLINE V WithSign(D d, V v, VU m) {
  const V r = hn::BitCast(d, m);
  return hn::IfThenElse(hn::Lt(v, hn::Zero(d)), hn::Neg(r), r);
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
    hn::Vec<decltype(d)> v0, v1, v2, v3;
    hn::LoadInterleaved4(d, p, v0, v1, v2, v3);
    auto m0 = Magnitude(du, v0), m1 = Magnitude(du, v1);
    auto m2 = Magnitude(du, v2), m3 = Magnitude(du, v3);
    SelectParts(du, m0, m1, m2, m3, keep);
    hn::StoreInterleaved4(WithSign(d, v0, m0), WithSign(d, v1, m1), WithSign(d, v2, m2), WithSign(d, v3, m3), d,
                          p);
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
    hn::Vec<decltype(d)> m0, m1, m2, m3;
    hn::LoadInterleaved4(d, p, m0, m1, m2, m3);
    SelectParts(d, m0, m1, m2, m3, keep);
    hn::StoreInterleaved4(m0, m1, m2, m3, d, p);
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
