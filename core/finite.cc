#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/finite.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "core/finite.h"

#include <bit>
#include <cmath>

#if defined(BITLANE_CORE_FINITE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_CORE_FINITE_INL_H_
#undef BITLANE_CORE_FINITE_INL_H_
#else
#define BITLANE_CORE_FINITE_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// NaN and infinity: every exponent bit set. Two vectors per step keep two
// independent chains; the scalar tail tests the same bits.
bool AllFinite(const float* x, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const size_t N = hn::Lanes(df), count = static_cast<size_t>(n);
  const auto exponent = hn::Set(du, 0x7F800000u);
  auto bad0 = hn::Zero(du), bad1 = hn::Zero(du);
  size_t i = 0;
  for (; i + 2 * N <= count; i += 2 * N) {
    const auto a = hn::And(hn::BitCast(du, hn::LoadU(df, x + i)), exponent);
    const auto b = hn::And(hn::BitCast(du, hn::LoadU(df, x + i + N)), exponent);
    bad0 = hn::Or(bad0, hn::VecFromMask(du, hn::Eq(a, exponent)));
    bad1 = hn::Or(bad1, hn::VecFromMask(du, hn::Eq(b, exponent)));
  }
  bool ok = hn::AllTrue(du, hn::Eq(hn::Or(bad0, bad1), hn::Zero(du)));
  for (; i < count; ++i) ok &= (std::bit_cast<uint32_t>(x[i]) & 0x7F800000u) != 0x7F800000u;
  return ok;
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
#include "core/error.h"

namespace bitlane {

HWY_EXPORT(AllFinite);

bool all_finite(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(AllFinite)(x, n); }

void require_finite(const float* x, int64_t n, const std::string& where) {
  if (all_finite(x, n)) return;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]))
      fail(where, std::string(std::isnan(x[i]) ? "NaN" : "infinite") + " value at element " + std::to_string(i));
}

}  // namespace bitlane
#endif  // HWY_ONCE
