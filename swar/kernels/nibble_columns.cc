// Method "int4col": weights of <= 4 bits as nibbles pairing two blocks of 16
// columns (swar/dot_family.h, kNibbleColumns4), u8 activations as int8's.
// One product of the raw bytes (16 w'_B + w'_A + 8 as s8) and one of their
// low nibbles (w'_A + 8) give both blocks exactly:
//   lo  = sum a' (w'_A + 8)            A = lo - 8 sum a'
//   raw = sum a' (16 w'_B + w'_A + 8)  B = (raw - lo) / 16
// so 64 bytes of weights cost two VPDPBUSD and one mask. int4's nibbles pair
// K units instead and pay a shift and two masks on the ports VPDPBUSD needs:
// on Intel's AVX-512 cores that made its GEMVs run level with int8's, where
// this layout measured 1.39-1.44x (bench/README.md, thirty-eighth and
// thirty-ninth sessions). Exact while |16 B| < 2^31 over a pass: K is cut
// into passes of at most kPassUnits units.
//
// The kernel: 512-bit VPDPBUSD (x86 with AVX-512 VNNI, when the current
// target has it), else plain C++ on every target -- the method is chosen
// only where the fast kernel runs (its estimate).
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/aligned_buffer.h"
#include "core/cpu_info.h"
#include "swar/dot_family.h"
#include "swar/int_format.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bitlane::swar::detail {
namespace {

constexpr size_t kPair = 2 * kDotBlock;  // columns per pair of blocks
// Units per pass: |16 sum a' w'_B| <= 255 x 128 x 4 per unit stays below 2^31.
constexpr size_t kPassUnits = std::numeric_limits<int32_t>::max() / (255 * 128 * 4);

// Pairs [p0, p1) of rows [m0, m1) over K units [ku0, ku1): column p * 32 + j
// of row m into out[(m - m0) * ldo + (p - p0) * 32 + j] as
// sum a' w' + col_init[col] + row_init[m] modulo 2^32 (null inits: 0;
// col_init holds init_cols entries, whole blocks: a last block alone has
// none for its pair's padding half). row_low[m] = 8 x (row m's sum of a'
// over the units), taken off the low blocks' sums.
struct PairArgs {
  const uint8_t* a;
  size_t a_stride;
  const uint8_t* w;
  size_t pair_bytes;
  const int32_t* col_init;
  size_t init_cols;
  const int32_t* row_init;
  const int32_t* row_low;
};

void pair_sums_portable(const PairArgs& g, size_t m0, size_t m1, size_t p0, size_t p1, size_t ku0, size_t ku1,
                        int32_t* out, size_t ldo) {
  for (size_t m = m0; m < m1; ++m) {
    const uint8_t* arow = g.a + m * g.a_stride;
    const uint32_t row = static_cast<uint32_t>(g.row_init ? g.row_init[m] : 0);
    for (size_t p = p0; p < p1; ++p)
      for (size_t c = 0; c < kDotBlock; ++c) {
        uint32_t lo = 0, raw = 0;  // wrapping sums
        const uint8_t* wcol = g.w + p * g.pair_bytes + c * 4;
        for (size_t ku = ku0; ku < ku1; ++ku)
          for (size_t t = 0; t < 4; ++t) {
            const uint32_t a = arow[ku * 4 + t];
            const uint8_t b = wcol[ku * 64 + t];
            lo += a * (b & 0x0Fu);
            raw += a * static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(b)));
          }
        const int32_t high = static_cast<int32_t>(raw - lo) / 16;  // exact: a multiple of 16 within the pass
        const size_t col = p * kPair + c;
        int32_t* o = out + (m - m0) * ldo + (p - p0) * kPair + c;
        o[0] = static_cast<int32_t>(lo - static_cast<uint32_t>(g.row_low[m]) + row +
                                    static_cast<uint32_t>(g.col_init ? g.col_init[col] : 0));
        const bool b_init = g.col_init && col + kDotBlock < g.init_cols;
        o[kDotBlock] = static_cast<int32_t>(static_cast<uint32_t>(high) + row +
                                            static_cast<uint32_t>(b_init ? g.col_init[col + kDotBlock] : 0));
      }
  }
}

#if defined(__x86_64__)
#define BL_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

uint32_t load_u32(const uint8_t* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

// MR rows x NP pairs: 2 MR NP accumulators (lo and raw per pair and row).
template <int MR, int NP>
BL_AVX512_VNNI void pair_tile_avx512(const PairArgs& g, size_t m, size_t m0, size_t p, size_t p0, size_t ku0,
                                     size_t ku1, int32_t* out, size_t ldo) {
  __m512i lo[MR][NP], raw[MR][NP];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NP; ++j) lo[r][j] = raw[r][j] = _mm512_setzero_si512();
  const __m512i mask = _mm512_set1_epi8(0x0F);
  const uint8_t* wp = g.w + p * g.pair_bytes;
  for (size_t ku = ku0; ku < ku1; ++ku) {
    __m512i wr[NP], wl[NP];
    for (int j = 0; j < NP; ++j) {
      wr[j] = _mm512_loadu_si512(wp + j * g.pair_bytes + ku * 64);
      wl[j] = _mm512_and_si512(wr[j], mask);
    }
    for (int r = 0; r < MR; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(load_u32(g.a + (m + r) * g.a_stride + ku * 4)));
      for (int j = 0; j < NP; ++j) {
        lo[r][j] = _mm512_dpbusd_epi32(lo[r][j], a, wl[j]);
        raw[r][j] = _mm512_dpbusd_epi32(raw[r][j], a, wr[j]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    const __m512i row = _mm512_set1_epi32(g.row_init ? g.row_init[m + r] : 0);
    const __m512i low_row = _mm512_sub_epi32(row, _mm512_set1_epi32(g.row_low[m + r]));
    for (int j = 0; j < NP; ++j) {
      const size_t col = (p + j) * kPair;
      __m512i a_sums = _mm512_add_epi32(lo[r][j], low_row);
      __m512i b_sums = _mm512_add_epi32(_mm512_maskz_srai_epi32(0xFFFF, _mm512_sub_epi32(raw[r][j], lo[r][j]), 4), row);
      if (g.col_init) {
        a_sums = _mm512_add_epi32(a_sums, _mm512_loadu_si512(g.col_init + col));
        if (col + kDotBlock < g.init_cols)
          b_sums = _mm512_add_epi32(b_sums, _mm512_loadu_si512(g.col_init + col + kDotBlock));
      }
      int32_t* o = out + (m + r - m0) * ldo + (p + j - p0) * kPair;
      _mm512_storeu_si512(o, a_sums);
      _mm512_storeu_si512(o + kDotBlock, b_sums);
    }
  }
}

// Tiles of 4 rows x 2 pairs (16 accumulators), the rows' rest as 1..3; a
// single row takes 4 pairs at a time (8 chains for VPDPBUSD's latency).
template <int NP>
void pair_rows_avx512(const PairArgs& g, size_t m0, size_t m1, size_t p, size_t p0, size_t ku0, size_t ku1,
                      int32_t* out, size_t ldo) {
  size_t m = m0;
  for (; m + 4 <= m1; m += 4) pair_tile_avx512<4, NP>(g, m, m0, p, p0, ku0, ku1, out, ldo);
  switch (m1 - m) {
    case 3: pair_tile_avx512<3, NP>(g, m, m0, p, p0, ku0, ku1, out, ldo); break;
    case 2: pair_tile_avx512<2, NP>(g, m, m0, p, p0, ku0, ku1, out, ldo); break;
    case 1: pair_tile_avx512<1, NP>(g, m, m0, p, p0, ku0, ku1, out, ldo); break;
    default: break;
  }
}

void pair_sums_avx512(const PairArgs& g, size_t m0, size_t m1, size_t p0, size_t p1, size_t ku0, size_t ku1,
                      int32_t* out, size_t ldo) {
  size_t p = p0;
  if (m1 - m0 == 1)
    for (; p + 4 <= p1; p += 4) pair_tile_avx512<1, 4>(g, m0, m0, p, p0, ku0, ku1, out, ldo);
  for (; p + 2 <= p1; p += 2) pair_rows_avx512<2>(g, m0, m1, p, p0, ku0, ku1, out, ldo);
  if (p < p1) pair_rows_avx512<1>(g, m0, m1, p, p0, ku0, ku1, out, ldo);
}
#endif

bool fast_kernel_here() {
#if defined(__x86_64__)
  const FeatureSet f = kernel_features();
  return (f & kByteDot) && (f & kVectors512);
#else
  return false;
#endif
}

void pair_sums(const PairArgs& g, size_t m0, size_t m1, size_t p0, size_t p1, size_t ku0, size_t ku1, int32_t* out,
               size_t ldo, bool fast) {
#if defined(__x86_64__)
  if (fast) return pair_sums_avx512(g, m0, m1, p0, p1, ku0, ku1, out, ldo);
#endif
  (void)fast;
  pair_sums_portable(g, m0, m1, p0, p1, ku0, ku1, out, ldo);
}

struct PairScratch {
  AlignedBuffer<int32_t> sums;   // one pass's results, whole pairs
  AlignedBuffer<int64_t> total;  // int64 results, or several passes
  AlignedBuffer<int64_t> row_sum;
  AlignedBuffer<int32_t> row_low;
};
PairScratch& pair_scratch() {
  thread_local PairScratch s;
  return s;
}

// 8 x each row's sum of a' over units [ku0, ku1) (packed rows, zero-padded).
void low_corrections(const PackedActivations& pa, size_t m0, size_t m1, size_t ku0, size_t ku1, PairScratch& s) {
  const size_t rows = m1 - m0;
  s.row_sum.reserve_scratch(rows);
  s.row_low.reserve_scratch(m1);
  sum_rows({static_cast<const uint8_t*>(pa.rows) + m0 * pa.row_stride + ku0 * 4, ElemType::kU8, rows,
            (ku1 - ku0) * 4, pa.row_stride},
           s.row_sum.data());
  for (size_t m = m0; m < m1; ++m) s.row_low[m] = wrap32(8 * s.row_sum[m - m0]);
}

void run_pair_tile(const TileJob& job) {
  const PackedActivations& pa = job.a;
  const PackedData& w = job.w;
  PairScratch& s = pair_scratch();
  const bool fast = fast_kernel_here();
  const size_t units = w.k_units, rows = job.m1 - job.m0;
  const size_t p0 = job.c0 / kPair, p1 = ceil_div(job.c1, kPair);  // c0: a multiple of the method's block
  PairArgs g{static_cast<const uint8_t*>(pa.rows), pa.row_stride, reinterpret_cast<const uint8_t*>(w.data.data()),
             units * 64, nullptr, ceil_div(w.n, kDotBlock) * kDotBlock, nullptr, nullptr};
  const size_t ldo = (p1 - p0) * kPair;
  if (!job.wide && units <= kPassUnits) {
    // One pass, int32: the kernel adds the corrections and writes whole
    // pairs straight into C where C has room for them; the rest via scratch.
    g.col_init = pa.col_inits;
    g.row_init = pa.row_init.empty() ? nullptr : pa.row_init.data();
    low_corrections(pa, job.m0, job.m1, 0, units, s);
    g.row_low = s.row_low.data();
    int32_t* c = static_cast<int32_t*>(job.c);
    const size_t room = job.c_block_padded ? ceil_div(job.c1, kDotBlock) * kDotBlock : job.c1;
    const size_t direct = std::min(p1, p0 + (room - job.c0) / kPair);
    if (direct > p0) pair_sums(g, job.m0, job.m1, p0, direct, 0, units, c + job.c0, job.ldc, fast);
    if (direct < p1) {
      s.sums.reserve_scratch(rows * kPair);
      pair_sums(g, job.m0, job.m1, direct, p1, 0, units, s.sums.data(), kPair, fast);
      const size_t first = direct * kPair;
      for (size_t m = job.m0; m < job.m1; ++m)
        std::copy_n(s.sums.data() + (m - job.m0) * kPair, job.c1 - first, c + (m - job.m0) * job.ldc + first);
    }
    return;
  }
  // int64 results, or K beyond one pass: passes without corrections, summed
  // in int64; write_corrected adds them.
  s.sums.reserve_scratch(rows * ldo);
  s.total.reserve_scratch(rows * ldo);
  std::fill(s.total.data(), s.total.data() + rows * ldo, int64_t{0});
  for (size_t k = 0; k < units; k += kPassUnits) {
    const size_t k_end = std::min(units, k + kPassUnits);
    low_corrections(pa, job.m0, job.m1, k, k_end, s);
    g.row_low = s.row_low.data();
    pair_sums(g, job.m0, job.m1, p0, p1, k, k_end, s.sums.data(), ldo, fast);
    for (size_t i = 0; i < rows * ldo; ++i) s.total[i] += s.sums[i];
  }
  write_corrected(s.total.data(), ldo, job);
}

// Chosen for single rows of weights beyond L1 on Intel's AVX-512 cores
// (kDotSharesPorts), where int4's unpacking shares VPDPBUSD's port and
// int4 runs level with int8. Emerald Rapids, thirty-ninth session
// (bench/README.md), GEMVs against int8 at 13 width pairs: 1.55-1.69x with
// N = 256 and 512 (1x784x512: 396-399 GOPS against 244-248), 1.82x on
// 1x128x512; but N = 120 0.93x (int4 1.09x), N = 64 1.01x (int4 1.08x),
// N = 10 0.60x (a pair's 32 columns computed for 10; fewer pairs than a
// single row's tile of 4). GEMMs 0.68-0.80x int8 (64x784x512, 3136x576x64,
// 196x2304x256), 1.40x at 2 rows. Elsewhere unmeasured, below int4 (the
// plain C++ kernel far below): never chosen.
double pair_macs_per_us(IntFormat, IntFormat, FeatureSet have, GemmShape shape) {
  const bool fast = (have & kByteDot) && (have & kVectors512);
  if (!fast) return 1e3;
  const bool known = shape.k != 0 && shape.n != 0;
  const bool fits_l1 = known && shape.k * shape.n <= l1_data_cache_bytes();
  const bool wide = shape.n_or_reference() >= 256;
  const bool one = shape.rows == GemmShape::Rows::kOne && (have & kDotSharesPorts);
  // In int8's units (3e5, x 0.51 for single rows on these cores).
  const double rate = !one ? 3.0e5 * 0.8 : (wide && !fits_l1) ? 3.0e5 * 0.51 * 1.6 : 3.0e5 * 0.51 * 0.9;
  return rate * dot_column_share(shape, have);
}

// The dot family's row on this layout, its columns split at pairs.
constexpr MethodSpec column_pair_method() {
  MethodSpec m = dot_method<kNibbleColumns4>(
      "int4col",
      "weights of <= 4 bits as nibbles pairing two blocks of columns: raw bytes and low nibbles into two VPDPBUSD",
      0, nullptr, [](IntFormat a, IntFormat w) { return a.bits <= 8 && w.bits <= 4; }, pair_macs_per_us,
      run_pair_tile, false);
  m.block = kPair;
  return m;
}

}  // namespace

extern constinit const MethodSpec kInt4ColMethod = column_pair_method();

}  // namespace bitlane::swar::detail
