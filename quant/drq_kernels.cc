// Per-target DRQ regions of four bytes: byte sums inside 32-bit lanes
// (two shifts, masks and adds), the rounding as a saturating add and a
// mask, the choice per lane.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/drq_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/drq_kernels.h"
#include "quant/drq.h"

#include <cstring>

#if defined(BITLANE_QUANT_DRQ_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_QUANT_DRQ_KERNELS_INL_H_
#undef BITLANE_QUANT_DRQ_KERNELS_INL_H_
#else
#define BITLANE_QUANT_DRQ_KERNELS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::quant::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

int64_t Regions4(uint8_t* data, size_t regions, int64_t min_sum) {
  size_t r = 0;
  int64_t sensitive = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint32_t> d32;
  const hn::Repartition<uint8_t, decltype(d32)> d8;
  const size_t N = hn::Lanes(d32);
  const auto byte_pairs = hn::Set(d32, 0x00FF00FFu), low16 = hn::Set(d32, 0xFFFFu);
  const auto limit = hn::Set(d32, static_cast<uint32_t>(std::min<int64_t>(min_sum, 1 << 20)));
  const auto eight = hn::Set(d8, uint8_t{8}), high_nibble = hn::Set(d8, uint8_t{0xF0});
  for (; r + N <= regions; r += N) {
    uint8_t* p = data + 4 * r;
    const auto bytes = hn::LoadU(d8, p);
    const auto x = hn::BitCast(d32, bytes);
    const auto halves = hn::Add(hn::And(x, byte_pairs), hn::And(hn::ShiftRight<8>(x), byte_pairs));
    const auto sum = hn::Add(hn::And(halves, low16), hn::ShiftRight<16>(halves));
    const auto keep = hn::Not(hn::Lt(sum, limit));  // sum >= min_sum: sensitive, 8 bits
    sensitive += static_cast<int64_t>(hn::CountTrue(d32, keep));
    // min((q + 8) & ~15, 240) == (saturating q + 8) & 0xF0.
    const auto low = hn::And(hn::SaturatedAdd(bytes, eight), high_nibble);
    const auto keep_bytes = hn::BitCast(d8, hn::VecFromMask(d32, keep));
    hn::StoreU(hn::IfThenElse(hn::MaskFromVec(keep_bytes), bytes, low), d8, p);
  }
#endif
  for (; r < regions; ++r) {
    uint8_t* p = data + 4 * r;
    const int64_t sum = int64_t{p[0]} + p[1] + p[2] + p[3];
    if (sum >= min_sum) {
      ++sensitive;
      continue;
    }
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(drq_low(p[i]));
  }
  return sensitive;
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::quant::detail
HWY_AFTER_NAMESPACE();

#endif

#if HWY_ONCE
namespace bitlane::quant::detail {

HWY_EXPORT(Regions4);

int64_t drq_regions4(uint8_t* data, size_t regions, int64_t min_sum) {
  return HWY_DYNAMIC_DISPATCH(Regions4)(data, regions, min_sum);
}

}  // namespace bitlane::quant::detail
#endif
