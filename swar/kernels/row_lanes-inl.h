// Gathered GEMMs with at most 8 real columns on AVX-512, rows in the lanes:
// lane i of a vector holds one K unit (4 bytes) of row m + i, read from
// where the row lies, and each column's weights of that unit are broadcast.
// Included by dot_tiles-inl.h once per Highway target; the kernel exists
// only on AVX3 / AVX3_DL.
//
// Why: LeNet's first convolution has 6 output channels and K = 10 units (a
// 5 x 5 kernel over one channel, folded). Columns in the lanes (the half
// pair tile, pair_tiles-inl.h) leave 10 of 16 lanes idle, and with 5 pair
// steps per row the tile's set-up -- row pointers, corrections, the lane-pair
// sums and stores -- costs as much as its products. Rows in the lanes fill
// every lane: a block of 16 rows costs one or two vector loads per unit (a
// gather where the rows are not 4 or 8 bytes apart), one VPDPBUSD per unit
// and column, and a transpose of the accumulators into rows at the end.
// Integer sums in another order: the same bits. LeNet, batch 64, one thread:
// the layer 0.19 -> 0.157 ms (bench/README.md, twentieth session).
//
// BL_HAVE_ROW_LANES says whether the current target has it.

#if defined(BITLANE_SWAR_ROW_LANES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_ROW_LANES_INL_H_
#undef BITLANE_SWAR_ROW_LANES_INL_H_
#else
#define BITLANE_SWAR_ROW_LANES_INL_H_
#endif

#include <cstring>
#include <limits>

#include "hwy/highway.h"
#include "swar/dot_family.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#undef BL_HAVE_ROW_LANES
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define BL_HAVE_ROW_LANES 1

// Loops over accumulators unrolled early enough that their arrays become
// registers (without, GCC 12 kept some on the stack, stored every K unit).
#if defined(__clang__)
#define BL_UNROLL _Pragma("unroll")
#else
#define BL_UNROLL _Pragma("GCC unroll 16")
#endif

template <class Product>
struct RowLanes {
  static constexpr size_t kMaxCols = 8;

  // Whether rows [m0, m1) can run here: a gather's int32 byte offsets
  // reach every row from any other.
  static bool Reachable(const DotArgs& g, size_t m0, size_t m1) {
    int64_t lo = g.row_offset[m0], hi = lo;
    for (size_t m = m0 + 1; m < m1; ++m) {
      lo = HWY_MIN(lo, g.row_offset[m]);
      hi = HWY_MAX(hi, g.row_offset[m]);
    }
    return hi - lo <= std::numeric_limits<int32_t>::max();
  }

  // Rows [m0, m1), columns 0 .. N - 1 of the block at wcol, units [ku0, ku1):
  // out row m at out + (m - m0) * ldo, columns 0-7 (those from N on hold 0).
  // Rows whose offsets step by 4 or 8 bytes (a convolution's output pixels
  // along a row, channels padded to 4 or folded into 8 bytes) are loaded as
  // vectors, up to 32 rows of one run at a time; other rows, and runs of
  // fewer than 8 (narrow images), are gathered 16 at a time.
  template <int N>
  static void Run(const DotArgs& g, const uint8_t* wcol, size_t col0, size_t m0, size_t m1, size_t ku0,
                  size_t ku1, int32_t* out, size_t ldo) {
    static_assert(N >= 1 && N <= static_cast<int>(kMaxCols));
    const int64_t* off = g.row_offset;
    size_t m = m0;
    while (m < m1) {
      const int64_t step = m + 1 < m1 ? off[m + 1] - off[m] : 0;
      const size_t run_max = HWY_MIN(size_t{32}, m1 - m);
      size_t run = step == 4 || step == 8 ? RunLength(off + m, step, run_max) : 1;
      int32_t* o = out + (m - m0) * ldo;
      if (run < 8) {  // no run, or one too short to fill half a block: 16 rows gathered
        run = HWY_MIN(size_t{16}, m1 - m);
        Blocks<N, 1, 0>(g, wcol, col0, m, run, ku0, ku1, o, ldo);
      } else if (step == 4) {
        if (run > 16) Blocks<N, 2, 4>(g, wcol, col0, m, run, ku0, ku1, o, ldo);
        else Blocks<N, 1, 4>(g, wcol, col0, m, run, ku0, ku1, o, ldo);
      } else {
        if (run > 16) Blocks<N, 2, 8>(g, wcol, col0, m, run, ku0, ku1, o, ldo);
        else Blocks<N, 1, 8>(g, wcol, col0, m, run, ku0, ku1, o, ldo);
      }
      m += run;
    }
  }

  // How many of the n <= 32 offsets from off[0] step by `step`: 8 compared
  // at a time (a scalar scan's loop exit cost a mispredicted branch per run,
  // a quarter of the kernel's time on LeNet).
  static HWY_INLINE size_t RunLength(const int64_t* off, int64_t step, size_t n) {
    const __m512i stepped = _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(step));
    for (size_t j = 0; j < n; j += 8) {
      const __mmask8 valid = static_cast<__mmask8>((1u << HWY_MIN(size_t{8}, n - j)) - 1);
      const __m512i want = _mm512_add_epi64(_mm512_set1_epi64(off[0] + static_cast<int64_t>(j) * step), stepped);
      const unsigned same = _mm512_mask_cmpeq_epi64_mask(valid, _mm512_maskz_loadu_epi64(valid, off + j), want);
      if (same != 0xFFu) return j + static_cast<size_t>(__builtin_ctz(~same));
    }
    return n;
  }

  // B blocks of 16 rows from m, `rows` of them real (lanes past them hold
  // no row, or repeat the last real row when gathered, and are not stored).
  // kStep 4 or 8: row m + i lies kStep * i bytes after row m; 0: gathered.
  template <int N, int B, int kStep>
  static HWY_INLINE void Blocks(const DotArgs& g, const uint8_t* wcol, size_t col0, size_t m, size_t rows,
                                size_t ku0, size_t ku1, int32_t* out, size_t ldo) {
    static_assert(kStep == 0 || kStep == 4 || kStep == 8);
    const hn::FixedTag<int32_t, 16> d32;
    using V = hn::Vec<decltype(d32)>;
    const uint8_t* base = static_cast<const uint8_t*>(g.a) + g.row_offset[m];
    const V zero = hn::Zero(d32);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __m512i offset[B];       // gathered: byte offsets of each lane's row from row m's
    __mmask16 lo[B], hi[B];  // loaded: the int32 lanes that hold the block's units
    V acc[B][N];
    alignas(64) int32_t lane[16];
    BL_UNROLL
    for (int b = 0; b < B; ++b) {
      const size_t first = static_cast<size_t>(b) * 16, real = rows > first ? HWY_MIN(size_t{16}, rows - first) : 0;
      if constexpr (kStep == 0) {
        for (size_t i = 0; i < 16; ++i)
          lane[i] = static_cast<int32_t>(g.row_offset[m + HWY_MIN(first + i, rows - 1)] - g.row_offset[m]);
        offset[b] = _mm512_load_si512(lane);
      } else {
        // Lane j of the block's kStep * 16 bytes is unit-sized; the units
        // are lanes 0, kStep / 4, ... -- the last at (real - 1) * kStep / 4.
        const size_t last = real ? (real - 1) * kStep / 4 : 0;
        const uint32_t bits = real ? static_cast<uint32_t>((uint64_t{2} << last) - 1) : 0;
        lo[b] = static_cast<__mmask16>(bits);
        hi[b] = static_cast<__mmask16>(bits >> 16);
      }
      const __mmask16 real_lanes = static_cast<__mmask16>((uint32_t{1} << real) - 1);
      const V row_init = g.row_init ? V{_mm512_maskz_loadu_epi32(real_lanes, g.row_init + m + first)} : zero;
      BL_UNROLL
      for (int c = 0; c < N; ++c)
        acc[b][c] = g.col_init ? hn::Add(row_init, hn::Set(d32, g.col_init[col0 + c])) : row_init;
    }
    for (size_t k = ku0; k < ku1; ++k) {
      const uint8_t* unit = base + g.unit_offset[k];
      V a[B];
      BL_UNROLL
      for (int b = 0; b < B; ++b) {
        const uint8_t* p = unit + b * 16 * kStep;
        if constexpr (kStep == 0) {
          a[b] = V{_mm512_i32gather_epi32(offset[b], unit, 1)};
        } else if constexpr (kStep == 4) {
          a[b] = V{_mm512_maskz_loadu_epi32(lo[b], p)};
        } else {  // the even lanes of 32: masked loads never touch bytes past the block's rows
          a[b] = V{_mm512_permutex2var_epi32(_mm512_maskz_loadu_epi32(lo[b], p), even,
                                             _mm512_maskz_loadu_epi32(hi[b], p + 64))};
        }
      }
      const uint8_t* w = wcol + k * 64;
      BL_UNROLL
      for (int c = 0; c < N; ++c) {
        int32_t wq;
        std::memcpy(&wq, w + c * 4, 4);
        const V wv = hn::Set(d32, wq);
        BL_UNROLL
        for (int b = 0; b < B; ++b) acc[b][c] = Product::Step(d32, a[b], wv, acc[b][c]);
      }
    }
    BL_UNROLL
    for (int b = 0; b < B; ++b) {
      const size_t first = static_cast<size_t>(b) * 16, real = rows > first ? HWY_MIN(size_t{16}, rows - first) : 0;
      V cols[8];
      BL_UNROLL
      for (int c = 0; c < 8; ++c) cols[c] = c < N ? acc[b][c] : zero;
      StoreRows(cols, real, out + first * ldo, ldo);
    }
  }

  // cols[c] lane i -> out[i * ldo + c] for rows i < rows, columns 0-7: an
  // 8 x 16 transpose in three shuffle stages (pairs of columns, quads, then
  // the 128-bit blocks of a row's two quads).
  template <class V>
  static HWY_INLINE void StoreRows(const V* cols, size_t rows, int32_t* out, size_t ldo) {
    __m512i t[8], u[8];
    for (int p = 0; p < 4; ++p) {  // block b: rows 4b, 4b + 1 (lo) and 4b + 2, 4b + 3 (hi) of columns 2p, 2p + 1
      t[2 * p] = _mm512_unpacklo_epi32(cols[2 * p].raw, cols[2 * p + 1].raw);
      t[2 * p + 1] = _mm512_unpackhi_epi32(cols[2 * p].raw, cols[2 * p + 1].raw);
    }
    for (int h = 0; h < 2; ++h) {  // u[4h + j], block b: row 4b + j, columns 4h .. 4h + 3
      u[4 * h + 0] = _mm512_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
      u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
      u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
      u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);   // rows j, 4 + j
    const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);  // rows 8 + j, 12 + j
    for (int j = 0; j < 4; ++j) {
      const __m512i x = _mm512_permutex2var_epi64(u[j], first, u[4 + j]);
      const __m512i y = _mm512_permutex2var_epi64(u[j], second, u[4 + j]);
      const __m256i row[4] = {_mm512_castsi512_si256(x), _mm512_extracti64x4_epi64(x, 1),
                              _mm512_castsi512_si256(y), _mm512_extracti64x4_epi64(y, 1)};
      for (int q = 0; q < 4; ++q) {
        const size_t i = static_cast<size_t>(4 * q + j);
        if (i < rows) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * ldo), row[q]);
      }
    }
  }

  // Run<n> for runtime n in 1..kMaxCols.
  template <int N = 1, class... Args>
  static HWY_INLINE void Dispatch(size_t n, Args&&... args) {
    if constexpr (N <= static_cast<int>(kMaxCols)) {
      if (n == N) {
        Run<N>(args...);
        return;
      }
      Dispatch<N + 1>(n, args...);
    }
  }
};
#undef BL_UNROLL
#else
#define BL_HAVE_ROW_LANES 0
#endif

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
