// Bit planes of gathered activations (gathered_planes.h): the source bytes
// turned into planes by vectors (one mask bit per byte and plane), then each
// row's runs joined bit by bit in a 64-bit register -- compiled per target
// for POPCNT and BMI2's shifts.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/kernels/gathered_planes.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/gathered_planes.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "core/executor.h"

// Plane words are read back as bytes (8 from any byte of a plane).
static_assert(std::endian::native == std::endian::little, "bit planes are read as little-endian bytes");

#if defined(BITLANE_SWAR_GATHERED_PLANES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_GATHERED_PLANES_INL_H_
#undef BITLANE_SWAR_GATHERED_PLANES_INL_H_
#else
#define BITLANE_SWAR_GATHERED_PLANES_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Words [w0, w1) of every plane from the n source bytes at src (word q is
// bytes 64 q ..; bytes past n count as 0).
void SourceWords(const uint8_t* src, size_t n, int planes, uint64_t* bits, size_t words, size_t w0, size_t w1) {
  for (size_t q = w0; q < w1; ++q) {
    const size_t at = q * 64;
    HWY_ALIGN uint8_t tail[64] = {};
    if (at < n && at + 64 > n) std::memcpy(tail, src + at, n - at);  // the last, partial block
    const uint8_t* block = at + 64 <= n ? src + at : tail;            // (or the zero word past it)
#if HWY_TARGET != HWY_SCALAR
    const hn::ScalableTag<uint8_t> d;
    const size_t N = hn::Lanes(d);
    if (N >= 8 && 64 % N == 0) {
      for (size_t i = 0; i < 64; i += N) {
        const auto v = hn::LoadU(d, block + i);
        for (int p = 0; p < planes; ++p)
          hn::StoreMaskBits(d, hn::TestBit(v, hn::Set(d, static_cast<uint8_t>(1u << p))),
                            reinterpret_cast<uint8_t*>(bits + static_cast<size_t>(p) * words + q) + i / 8);
      }
      continue;
    }
#endif
    for (int p = 0; p < planes; ++p) {
      uint64_t word = 0;
      for (size_t t = 0; t < 64; ++t) word |= static_cast<uint64_t>((block[t] >> p) & 1u) << t;
      bits[static_cast<size_t>(p) * words + q] = word;
    }
  }
}

// Rows [r0, r1): each plane's runs appended to a 64-bit register, written out
// a word at a time. Runs are read 56 bits at a time (8 bytes from any bit
// offset hold 56 bits past it).
void RowPlanesScalar(const ActivationGather& g, const SourcePlanes& s, size_t kw, uint64_t* out,
                     size_t row_stride, size_t r0, size_t r1, float* sums) {
  const size_t run = g.run, segments = g.segments;
  for (size_t r = r0; r < r1; ++r) {
    uint64_t* row = out + r * row_stride;
    const size_t first = static_cast<size_t>(g.row_offset[r] - s.origin);
    uint64_t sum = 0;
    for (int p = 0; p < s.planes; ++p) {
      const auto* plane = reinterpret_cast<const uint8_t*>(s.bits.data() + static_cast<size_t>(p) * s.words);
      uint64_t* o = row + static_cast<size_t>(p) * kw;
      uint64_t* const end = o + kw;
      uint64_t acc = 0, ones = 0;
      size_t pos = 0;  // bits in acc
      for (size_t seg = 0; seg < segments; ++seg) {
        size_t b = first + seg * g.segment_stride;
        for (size_t left = run; left > 0;) {
          const size_t n = std::min<size_t>(left, 56);
          uint64_t v;
          std::memcpy(&v, plane + b / 8, sizeof v);
          v = (v >> (b % 8)) & ((uint64_t{1} << n) - 1);
          acc |= v << pos;
          pos += n;
          if (pos >= 64) {  // acc full: v's bits that did not fit start the next word
            ones += hwy::PopCount(acc);
            *o++ = acc;
            pos -= 64;
            acc = v >> (n - pos);
          }
          b += n;
          left -= n;
        }
      }
      if (pos > 0) {
        ones += hwy::PopCount(acc);
        *o++ = acc;
      }
      while (o < end) *o++ = 0;
      sum += ones << p;
    }
    if (sums) sums[r] = static_cast<float>(sum);
  }
}

#if HWY_TARGET != HWY_SCALAR
// The same for a vector of rows at once, one row per 64-bit lane: every
// row's runs land at the same bits of its plane (only where they are read
// from differs), so the joining -- shifts, and when a word is full -- is
// uniform across lanes and the reads are one gather per 56 bits. A row at
// a time, that joining was a chain of dependent shifts per run (LeNet's
// second convolution: ~8 cycles a run, over twice bit-serial's products).
constexpr size_t kMaxRowWords = 32;  // K <= 2048 (longer rows: a row at a time)

void RowPlanes(const ActivationGather& g, const SourcePlanes& s, size_t kw, uint64_t* out, size_t row_stride,
               size_t r0, size_t r1, float* sums) {
  if (kw > kMaxRowWords) return RowPlanesScalar(g, s, kw, out, row_stride, r0, r1, sums);
  const hn::ScalableTag<uint64_t> du;
  const hn::RebindToSigned<decltype(du)> di;
  constexpr size_t kMaxLanes = hn::MaxLanes(du);
  const size_t L = hn::Lanes(du), run = g.run;
  HWY_ALIGN uint64_t words[kMaxRowWords * kMaxLanes];  // word w of lane i at w * L + i
  HWY_ALIGN int64_t first[kMaxLanes];
  HWY_ALIGN uint64_t lane_sums[kMaxLanes];
  for (size_t r = r0; r < r1; r += L) {
    const size_t rows = std::min(L, r1 - r);
    for (size_t i = 0; i < L; ++i) first[i] = g.row_offset[r + std::min(i, rows - 1)] - s.origin;
    const auto first_bit = hn::Load(di, first);
    auto sum = hn::Zero(du);
    for (int p = 0; p < s.planes; ++p) {
      const auto* plane = reinterpret_cast<const int64_t*>(s.bits.data() + static_cast<size_t>(p) * s.words);
      auto acc = hn::Zero(du);
      size_t pos = 0, w = 0;
      auto flush = [&] {
        sum = hn::Add(sum, hn::ShiftLeftSame(hn::PopulationCount(acc), p));
        hn::Store(acc, du, words + w++ * L);
      };
      for (size_t seg = 0; seg < g.segments; ++seg)
        for (size_t c = 0; c < run; c += 56) {
          const size_t n = std::min<size_t>(run - c, 56);
          const auto bit = hn::Add(first_bit, hn::Set(di, static_cast<int64_t>(seg * g.segment_stride + c)));
          auto v = hn::BitCast(du, hn::GatherOffset(di, plane, hn::ShiftRight<3>(bit)));
          v = hn::And(hn::Shr(v, hn::BitCast(du, hn::And(bit, hn::Set(di, 7)))),
                      hn::Set(du, (uint64_t{1} << n) - 1));
          acc = hn::Or(acc, hn::ShiftLeftSame(v, static_cast<int>(pos)));
          pos += n;
          if (pos >= 64) {  // acc full: v's bits that did not fit start the next word
            flush();
            pos -= 64;
            acc = hn::ShiftRightSame(v, static_cast<int>(n - pos));
          }
        }
      if (pos > 0) flush();
      for (size_t i = 0; i < rows; ++i) {
        uint64_t* o = out + (r + i) * row_stride + static_cast<size_t>(p) * kw;
        for (size_t q = 0; q < w; ++q) o[q] = words[q * L + i];
        for (size_t q = w; q < kw; ++q) o[q] = 0;
      }
    }
    if (sums) {
      hn::Store(sum, du, lane_sums);
      for (size_t i = 0; i < rows; ++i) sums[r + i] = static_cast<float>(lane_sums[i]);
    }
  }
}
#else
void RowPlanes(const ActivationGather& g, const SourcePlanes& s, size_t kw, uint64_t* out, size_t row_stride,
               size_t r0, size_t r1, float* sums) {
  RowPlanesScalar(g, s, kw, out, row_stride, r0, r1, sums);
}
#endif

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::swar::detail {

HWY_EXPORT(SourceWords);
HWY_EXPORT(RowPlanes);

void build_source_planes(const ActivationGather& g, int planes, const Executor& ex, SourcePlanes& out) {
  out.planes = planes;
  out.origin = 0;
  out.words = 0;
  if (g.rows == 0) return;
  int64_t lo = g.row_offset[0], hi = lo;
  for (size_t r = 1; r < g.rows; ++r) {
    lo = std::min(lo, g.row_offset[r]);
    hi = std::max(hi, g.row_offset[r]);
  }
  const size_t n = static_cast<size_t>(hi - lo) + (g.segments - 1) * g.segment_stride + g.run;
  out.origin = lo;
  out.words = (n + 63) / 64 + 1;
  out.bits.reserve_scratch(out.words * static_cast<size_t>(planes));
  const uint8_t* src = g.base + lo;
  // 4 KB of source bytes per task.
  constexpr size_t kWordsPerTask = 64;
  const size_t tasks = (out.words + kWordsPerTask - 1) / kWordsPerTask;
  ex.parallel_for(tasks, 1, [&](size_t t0, size_t t1) {
    HWY_DYNAMIC_DISPATCH(SourceWords)(src, n, planes, out.bits.data(), out.words, t0 * kWordsPerTask,
                                      std::min(out.words, t1 * kWordsPerTask));
  });
}

void gather_row_planes(const ActivationGather& g, const SourcePlanes& s, size_t kw, uint64_t* out,
                       size_t row_stride, size_t r0, size_t r1, float* sums) {
  HWY_DYNAMIC_DISPATCH(RowPlanes)(g, s, kw, out, row_stride, r0, r1, sums);
}

}  // namespace bitlane::swar::detail
#endif  // HWY_ONCE
