// Per-target pixel spreads (ops/kernels/spread_pixels.h).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/spread_pixels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/kernels/spread_pixels.h"

#include <cstring>

#if defined(BITLANE_OPS_SPREAD_PIXELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_SPREAD_PIXELS_INL_H_
#undef BITLANE_OPS_SPREAD_PIXELS_INL_H_
#else
#define BITLANE_OPS_SPREAD_PIXELS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {

// src is readable up to `readable` >= (count - 1) * stride + run bytes: no
// load reaches past that (masked 64-byte windows on AVX3_DL, 8-byte words
// elsewhere).
void Spread(const PixelSpread& s, const uint8_t* HWY_RESTRICT src, size_t readable, size_t count,
            uint8_t* HWY_RESTRICT dst) {
  const size_t stride = s.stride, run = s.run, unit = s.unit;
  size_t x = 0;
#if HWY_TARGET == HWY_AVX3_DL
  // 64 / unit pixels per permute; the window's load and the last block's
  // store are masked to the row (masked-off bytes are never touched).
  const __m512i index = _mm512_load_si512(s.index);
  const __mmask64 keep = ~_mm512_movepi8_mask(index);
  const size_t per = 64 / unit;
  for (; x < count; x += per) {
    const size_t at = x * stride, avail = readable - at, out = (count - x < per ? count - x : per) * unit;
    const __mmask64 load = avail >= 64 ? ~__mmask64{0} : (__mmask64{1} << avail) - 1;
    const __m512i window = _mm512_maskz_loadu_epi8(load, src + at);
    const __m512i v = _mm512_maskz_permutexvar_epi8(keep, index, window);
    if (out == 64) _mm512_storeu_si512(dst + x * unit, v);
    else _mm512_mask_storeu_epi8(dst + x * unit, (__mmask64{1} << out) - 1, v);
  }
#else
  // Elsewhere a pixel at a time, as one 8-byte word masked to its run while
  // 8 bytes are readable: 128-bit byte shuffles of 2 or 4 pixels took more
  // instructions (callgrind, LeNet on AVX2: padding and folding 20.1k per
  // image with shuffles, 18.8k with words).
  const uint64_t mask = run >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * run)) - 1;  // little-endian: the first run bytes
  const size_t words = readable < 8 ? 0 : HWY_MIN(count, (readable - 8) / stride + 1);  // pixels with 8 bytes readable
  for (; x < words; ++x) {
    uint64_t v;
    std::memcpy(&v, src + x * stride, 8);
    v &= mask;
    if (unit == 8) {
      std::memcpy(dst + x * 8, &v, 8);
    } else {
      const auto v4 = static_cast<uint32_t>(v);
      std::memcpy(dst + x * 4, &v4, 4);
    }
  }
#endif
  for (; x < count; ++x)
    for (size_t j = 0; j < unit; ++j) dst[x * unit + j] = j < run ? src[x * stride + j] : 0;
}

void SpreadPixels(const PixelSpread& s, const uint8_t* HWY_RESTRICT src, size_t count, uint8_t* HWY_RESTRICT dst) {
  Spread(s, src, count ? (count - 1) * s.stride + s.run : 0, count, dst);
}

void SpreadPaddedRow(const PixelSpread& s, const uint8_t* HWY_RESTRICT src, size_t bytes, size_t left,
                     size_t row_bytes, uint8_t pad, size_t count, uint8_t* HWY_RESTRICT scratch,
                     uint8_t* HWY_RESTRICT dst) {
#if HWY_TARGET == HWY_AVX3_DL
  if (row_bytes <= 64) {
    // The source bytes expanded into [left, left + bytes), pad elsewhere;
    // block b of dst permutes the same register, its indexes moved on by
    // the block's first source byte (all below row_bytes <= 64).
    const __mmask64 inside = bytes ? (bytes >= 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1) << left : 0;
    const __m512i row = _mm512_mask_expandloadu_epi8(_mm512_set1_epi8(static_cast<char>(pad)), inside, src);
    const __m512i index = _mm512_load_si512(s.index);
    const __mmask64 keep = ~_mm512_movepi8_mask(index);
    const size_t unit = s.unit, per = 64 / unit;  // locals: the stores below could alias s
    // Each block's indexes move on by per * stride bytes of the row.
    const __m512i step = _mm512_set1_epi8(static_cast<char>(per * s.stride));
    __m512i at = index;
    size_t x = 0;
    for (; x + per <= count; x += per, at = _mm512_add_epi8(at, step))
      _mm512_storeu_si512(dst + x * unit, _mm512_maskz_permutexvar_epi8(keep, at, row));
    if (x < count)
      _mm512_mask_storeu_epi8(dst + x * unit, (__mmask64{1} << ((count - x) * unit)) - 1,
                              _mm512_maskz_permutexvar_epi8(keep, at, row));
    return;
  }
#endif
  // The row in scratch, with slack: every pixel's 8-byte word is then
  // readable (a row's last pixels byte by byte cost as much as the rest).
  std::memset(scratch, pad, left);
  if (bytes) std::memcpy(scratch + left, src, bytes);
  std::memset(scratch + left + bytes, pad, row_bytes - left - bytes + kScratchSlack);
  Spread(s, scratch, row_bytes + kScratchSlack, count, dst);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
#include <bit>

#include "core/error.h"

namespace bitlane::ops::detail {

// The masked words of the targets without VPERMB keep a word's first bytes.
static_assert(std::endian::native == std::endian::little, "bitlane assumes a little-endian CPU");

HWY_EXPORT(SpreadPixels);
HWY_EXPORT(SpreadPaddedRow);

PixelSpread pixel_spread(size_t stride, size_t run, size_t unit) {
  if ((unit != 4 && unit != 8) || stride < 1 || stride > run || run > unit)
    fail("pixel_spread", "needs unit 4 or 8 and 1 <= stride <= run <= unit");
  PixelSpread s;
  s.stride = stride;
  s.run = run;
  s.unit = unit;
  const size_t shift = unit == 8 ? 3 : 2;
  for (size_t o = 0; o < 64; ++o) {
    const size_t j = o & (unit - 1);
    s.index[o] = j < run ? static_cast<uint8_t>((o >> shift) * stride + j) : uint8_t{0x80};
  }
  return s;
}

void spread_pixels(const PixelSpread& s, const uint8_t* src, size_t count, uint8_t* dst) {
  HWY_DYNAMIC_DISPATCH(SpreadPixels)(s, src, count, dst);
}
void spread_padded_row(const PixelSpread& s, const uint8_t* src, size_t bytes, size_t left, size_t row_bytes,
                       uint8_t pad, size_t count, uint8_t* scratch, uint8_t* dst) {
  HWY_DYNAMIC_DISPATCH(SpreadPaddedRow)(s, src, bytes, left, row_bytes, pad, count, scratch, dst);
}

}  // namespace bitlane::ops::detail
#endif  // HWY_ONCE
