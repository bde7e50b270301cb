// Method "bitserial": A and W as bit planes, sum_k a_k w_k =
// sum_{i,j} s_i s_j 2^(i+j) popcount(A_i & W_j), s = -1 for the top plane of
// a signed operand. Per-target register tiles of up to 4 rows x 4 vectors of
// 64-bit words (AND, POPCNT, ADD per vector; VPOPCNTQ on AVX3_DL), every
// Highway target. Exact int64 sums, written straight into C: bit planes
// need no bias.
//
// Layout: weights [block of 8 cols][plane j][K word][8 cols], activations
// [row][plane i][K word] (uint64 words, bit t of word q = value 64q + t).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/kernels/bitplane_popcount.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/register_tiles.h"

#ifndef BITLANE_SWAR_BITPLANE_POPCOUNT_ARGS_
#define BITLANE_SWAR_BITPLANE_POPCOUNT_ARGS_
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace bitlane::swar::detail {

inline constexpr size_t kBitSerialBlock = 8;

struct BitSerialArgs {
  const uint64_t* a;     // activation planes
  size_t a_row_words;    // a_planes * kw
  const uint64_t* w;     // weight planes
  size_t w_block_words;  // w_planes * kw * 8
  size_t kw;             // 64-bit words per plane
  int a_planes, w_planes;
  bool a_signed, w_signed;  // top plane weighs -2^(planes-1) when signed
};
// Where the sums go: c[(m - row0) * ldc + col] for the columns col < n that
// exist (int64, or int32 when `wide` is false).
struct BitSerialOut {
  void* c;  // row `row0` of C
  size_t row0;
  size_t ldc;
  bool wide;
  size_t n;
};

}  // namespace bitlane::swar::detail
#endif  // BITLANE_SWAR_BITPLANE_POPCOUNT_ARGS_

#if defined(BITLANE_SWAR_BITPLANE_POPCOUNT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_BITPLANE_POPCOUNT_INL_H_
#undef BITLANE_SWAR_BITPLANE_POPCOUNT_INL_H_
#else
#define BITLANE_SWAR_BITPLANE_POPCOUNT_INL_H_
#endif

#include "swar/kernels/avx3_dl_target-inl.h"  // the full feature set, as every kernel file
HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_NEON || \
    HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 ||  \
    HWY_TARGET == HWY_SVE2_128
constexpr int kMaxRows = 4;  // 32 vector registers (6 rows measured slower)
#else
constexpr int kMaxRows = 2;  // 16 vector registers (SSE4, AVX2) or emulated
#endif
constexpr int kMaxVecs = 4;
using tiles::kTileRows;
using tiles::kTileVecs;

// The k loop of one plane pair (i, j): each accumulator gains (OP = Add) or
// loses (OP = Sub, a negative pair) popcount(A_i & W_j) of its row and columns.
#define BL_LOAD_A(R) \
  const auto a##R = (R < MR) ? hn::Set(du, ap[R < MR ? R : 0][k]) : hn::Zero(du);
#define BL_LOAD_W(V) \
  const auto w##V = (V < NV) ? hn::LoadU(du, wp[V < NV ? V : 0] + k * kBitSerialBlock) : hn::Zero(du);
#define BL_STEP_ADD(R, V) \
  if constexpr (R < MR && V < NV) c##R##V = hn::Add(c##R##V, hn::PopulationCount(hn::And(a##R, w##V)));
#define BL_STEP_SUB(R, V) \
  if constexpr (R < MR && V < NV) c##R##V = hn::Sub(c##R##V, hn::PopulationCount(hn::And(a##R, w##V)));
#define BL_PLANE_PAIR_LOOP(STEP)   \
  for (size_t k = 0; k < kw; ++k) { \
    BL_FOR_ROWS(BL_LOAD_A)          \
    BL_FOR_VECS(BL_LOAD_W)          \
    BL_FOR_TILE(STEP)               \
  }

// The plane pairs' weights 2^(i+j) are applied by Horner's rule: pairs are
// visited by s = i + j from the top down, and the accumulators double
// between two values of s. So every pair adds its popcounts straight into
// the one accumulator per output, which stays in a register from the first
// pair to the store into C (no pass is folded through memory: with short K,
// 64x784x512, the folds, stores and their tests were ~30% of the kernel).
// Sums wrap in uint64 lanes, which is exact: the true sums fit in int64.
template <int MR, int NV>
struct BitSerialTile {
  static void Run(size_t m, size_t v, const BitSerialArgs& g, const BitSerialOut& out) {
    const hn::CappedTag<uint64_t, kBitSerialBlock> du;
    const hn::RebindToSigned<decltype(du)> di;
    const size_t L = hn::Lanes(du);
    const size_t per_block = kBitSerialBlock / L;
    const size_t kw = g.kw;

    const uint64_t* wcol[kTileVecs] = {};
    for (int c = 0; c < NV; ++c) {
      const size_t gv = v + c;
      wcol[c] = g.w + (gv / per_block) * g.w_block_words + (gv % per_block) * L;
    }
    const uint64_t* arow[kTileRows] = {};
    for (int r = 0; r < MR; ++r) arow[r] = g.a + (m + r) * g.a_row_words;

#define BL_DECL(R, V) auto c##R##V = hn::Zero(du);
    BL_FOR_TILE(BL_DECL)
#undef BL_DECL
    const int top = g.a_planes + g.w_planes - 2;
    for (int s = top; s >= 0; --s) {
      if (s != top) {
#define BL_DOUBLE(R, V) \
  if constexpr (R < MR && V < NV) c##R##V = hn::Add(c##R##V, c##R##V);
        BL_FOR_TILE(BL_DOUBLE)
#undef BL_DOUBLE
      }
      const int i_first = std::max(0, s - (g.w_planes - 1));
      const int i_last = std::min(g.a_planes - 1, s);
      for (int i = i_first; i <= i_last; ++i) {
        const int j = s - i;
        const uint64_t* ap[kTileRows] = {};
        for (int r = 0; r < MR; ++r) ap[r] = arow[r] + static_cast<size_t>(i) * kw;
        const uint64_t* wp[kTileVecs] = {};
        for (int c = 0; c < NV; ++c) wp[c] = wcol[c] + static_cast<size_t>(j) * kw * kBitSerialBlock;
        // Negative when exactly one of the planes is the top plane of a
        // signed operand (it weighs -2^(planes-1)).
        const bool a_top = g.a_signed && i == g.a_planes - 1;
        const bool w_top = g.w_signed && j == g.w_planes - 1;
        if (a_top != w_top) {
          BL_PLANE_PAIR_LOOP(BL_STEP_SUB)
        } else {
          BL_PLANE_PAIR_LOOP(BL_STEP_ADD)
        }
      }
    }
    // A copy the stores into C cannot alias, so its fields stay in registers.
    const BitSerialOut o = out;
#define BL_STORE(R, V) \
  if constexpr (R < MR && V < NV) StoreSums(di, hn::BitCast(di, c##R##V), m + R, (v + V) * L, o);
    BL_FOR_TILE(BL_STORE)
#undef BL_STORE
  }

  // Writes one vector of sums to C: the columns that exist, as int32 or int64.
  template <class DI, class VI>
  static HWY_INLINE void StoreSums(DI di, VI sums, size_t row, size_t col,
                                   const BitSerialOut& out) {
    const size_t L = hn::Lanes(di);
    if (col + L <= out.n) {
      if (out.wide) {
        hn::StoreU(sums, di, static_cast<int64_t*>(out.c) + (row - out.row0) * out.ldc + col);
        return;
      }
      int32_t* dst = static_cast<int32_t*>(out.c) + (row - out.row0) * out.ldc + col;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
      if constexpr (hn::MaxLanes(di) == 8) {  // VPMOVQD (Highway 1.0.3 lacks it)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi64_epi32(sums.raw));
        return;
      }
#endif
      HWY_ALIGN int64_t lanes[hn::MaxLanes(di)];
      hn::Store(sums, di, lanes);
      for (size_t c = 0; c < L; ++c) dst[c] = static_cast<int32_t>(lanes[c]);
      return;
    }
    if (col >= out.n) return;  // padding columns
    HWY_ALIGN int64_t lanes[hn::MaxLanes(di)];
    hn::Store(sums, di, lanes);
    for (size_t c = 0; col + c < out.n; ++c) {
      if (out.wide)
        static_cast<int64_t*>(out.c)[(row - out.row0) * out.ldc + col + c] = lanes[c];
      else
        static_cast<int32_t*>(out.c)[(row - out.row0) * out.ldc + col + c] = static_cast<int32_t>(lanes[c]);
    }
  }
};

#undef BL_PLANE_PAIR_LOOP
#undef BL_STEP_SUB
#undef BL_STEP_ADD
#undef BL_LOAD_W
#undef BL_LOAD_A

void BitPlaneTiles(const BitSerialArgs& g, size_t m0, size_t m1, size_t col0, size_t col1,
                   const BitSerialOut& out) {
  const size_t L = hn::Lanes(hn::CappedTag<uint64_t, kBitSerialBlock>());
  tiles::for_each<BitSerialTile, kMaxRows, kMaxVecs>(m0, m1, col0 / L, col1 / L, g, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
#include <algorithm>
#include <cstring>
#include <vector>

#include "swar/gemm_internal.h"
#include "swar/pack.h"
#include "swar/pack_kernels.h"

namespace bitlane::swar::detail {
namespace {

HWY_EXPORT(BitPlaneTiles);

// Bit plane i of a row of values (two's complement bits) as 1-bit lanes:
// the lane library's packing of (v >> i) & 1.
void to_bit_planes(const int32_t* values, size_t k, int planes, size_t kw, uint64_t* out, size_t plane_stride) {
  constexpr LaneFormat kBit{1, false, 0};
  std::vector<uint8_t> bits(k);
  for (int i = 0; i < planes; ++i) {
    for (size_t t = 0; t < k; ++t) bits[t] = static_cast<uint8_t>((static_cast<uint32_t>(values[t]) >> i) & 1u);
    std::span<uint64_t> dst(out + static_cast<size_t>(i) * plane_stride, kw);
    std::fill(dst.begin(), dst.end(), uint64_t{0});
    pack<uint8_t>(bits, kBit, dst);
  }
}

void pack_weights(const MatrixView& w, PackedData& p) {
  const size_t n = w.rows, k = w.cols;
  const int planes = p.w_format.bits;
  const size_t kw = ceil_div(k, 64);
  const size_t blocks = ceil_div(n, kBitSerialBlock);
  const size_t block_words = static_cast<size_t>(planes) * kw * kBitSerialBlock;
  p.k_units = kw;
  p.data.resize(blocks * block_words);
  std::vector<int32_t> row(k);
  std::vector<uint64_t> col_planes(static_cast<size_t>(planes) * kw);
  uint64_t* dst = p.data.data();
  for (size_t col = 0; col < n; ++col) {
    read_row(w, col, row.data());
    to_bit_planes(row.data(), k, planes, kw, col_planes.data(), kw);
    uint64_t* block = dst + (col / kBitSerialBlock) * block_words + col % kBitSerialBlock;
    for (int j = 0; j < planes; ++j)
      for (size_t word = 0; word < kw; ++word)
        block[(j * kw + word) * kBitSerialBlock] = col_planes[j * kw + word];
  }
}

void prepare_activations(const MatrixView& a, IntFormat af, const PackedData& w, const GemmOptions& options,
                         PackedActivations& out) {
  out.format = af;
  out.bias = 0;
  out.need_sums = false;
  out.row_sum.clear();
  out.col_init.clear();
  out.col_inits = nullptr;
  out.row_init.clear();
  out.in_place = false;
  out.trusted = options.trusted_range;
  // Bytes go through the vectorised plane packer, which checks the range.
  out.fast = fits_type(a.type, af) && (a.type == ElemType::kI8 || a.type == ElemType::kU8);
  if (!out.fast && !options.trusted_range) check_range(a, af, "activations");
  out.row_stride = static_cast<size_t>(af.bits) * w.k_units;
  out.data.reserve_scratch(std::max<size_t>(1, a.rows * out.row_stride));
  out.rows = out.data.data();
}

bool pack_rows(const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0, size_t r1) {
  const IntFormat af = out.format;
  const size_t k = a.cols, kw = w.k_units;
  if (r0 >= r1) return true;
  uint64_t* dst = out.data.data() + r0 * out.row_stride;
  if (out.fast) {
    ByteRowSpec spec;
    spec.check_lo = static_cast<uint8_t>(af.min_value());
    spec.check_span = static_cast<uint8_t>(af.max_value() - af.min_value());
    return byte_planes({static_cast<const uint8_t*>(a.data) + r0 * a.stride, a.stride, dst, out.row_stride,
                        r1 - r0, k},
                       spec, af.bits, kw);
  }
  std::vector<int32_t> row(k);
  for (size_t r = r0; r < r1; ++r) {
    read_row(a, r, row.data());
    to_bit_planes(row.data(), k, af.bits, kw, out.data.data() + r * out.row_stride, kw);
  }
  return true;
}

// Gathered rows (a convolution's implicit im2col): planes of the source
// bytes once, then each row's bits joined (gathered_planes.h), the planes
// prepare_activations sized.
void prepare_gathered(const ActivationGather& g, const PackedData&, const Executor& ex, PackedActivations& out) {
  build_source_planes(g, out.format.bits, ex, out.source);
}
void pack_gathered(const ActivationGather& g, const PackedData& w, PackedActivations& out, size_t r0, size_t r1) {
  gather_row_planes(g, out.source, w.k_units, out.data.data(), out.row_stride, r0, r1, g.row_sums);
}

void run_tile(const TileJob& job) {
  const PackedData& w = job.w;
  const BitSerialArgs g{static_cast<const uint64_t*>(job.a.rows),
                        job.a.row_stride,
                        w.data.data(),
                        static_cast<size_t>(w.w_format.bits) * w.k_units * kBitSerialBlock,
                        w.k_units,
                        job.a.format.bits,
                        w.w_format.bits,
                        job.a.format.is_signed,
                        w.w_format.is_signed};
  const size_t cols = ceil_div(job.c1 - job.c0, kBitSerialBlock) * kBitSerialBlock;
  HWY_DYNAMIC_DISPATCH(BitPlaneTiles)(g, job.m0, job.m1, job.c0, job.c0 + cols,
                                      BitSerialOut{job.c, job.m0, job.ldc, job.wide, w.n});
}

// Packing the activations' planes, per activation value (the N columns
// share it): 1.5e-5 us per value and plane from rows; from gathered rows
// (gathered_planes.h) per row and plane 1e-3 us and 7e-4 us per 56 bits of
// a run read (Zen 4, AVX3_DL, thirty-fifth session: 0.7-1.2 ns a read, 1-2
// ns a row, runs of 40-192 bits; bench/README.md). Their tiny runs keep
// LeNet's first convolution (runs of 8 bits, N = 6) on int8.
double packing_us(IntFormat a, GemmShape shape) {
  const size_t run = shape.gathered_run, k = shape.k_or_reference();
  if (run == 0) return 1.5e-5 * a.bits;
  const double reads = static_cast<double>(ceil_div(k, run) * ceil_div(run, 56));
  return a.bits * (1e-3 + 7e-4 * reads) / static_cast<double>(k);
}

// Time per multiply-accumulate: one pass over K per plane pair (a_bits x
// w_bits passes at `pass` MAC/us each) and what each tile pays once
// (pointers, the stores into C), 2e-6 us per MAC and 64-bit word of K,
// both over the padded product (K in whole words, N in blocks of 8); and
// packing the activations' planes (packing_us), shared by the N columns (at N =
// 16 that packing is most of bit-serial's time). Fitted to bitserial against
// the best byte method on a Zen 5 (bench/README.md, nineteenth session, after
// the packers' tails were vectorised: 1x1 .. 4x4 bits, 17 shapes, K = 84 ..
// 2304, N = 10 .. 768, measured ratios 0.22-4.7, best of two runs). Over the
// 140 cells with N >= 64 the estimated ratio is 0.66-1.38 of the measured one,
// median 0.98, 6 cells on the wrong side of 1 (measured 0.89-1.06); over all
// 238, 13 (measured 0.89-1.09) once the dot methods count their padded columns
// (dot_column_share; int8's own slope below N = 48 and its K mod 4 copy stay
// unmodelled). Unknown shapes count as 784 x 512 (GemmShape).
// `pass`: 1.75e6 where popcount runs ~5x
// VPDPBUSD's rate (kFastPopcount; bitserial 4.0x the byte methods on
// 64x784x512 at 1 x 1 bit, Zen 5); 8.4e5 with VPOPCNTQ elsewhere (keeps the
// Sapphire Rapids figure on 64x784x512, 6.9e5 at 1 x 1 = 2.3x int8, above
// AMX's guess); 1.35e5 on AVX2 (1.34-1.44x int7 at 1 x 1, 0.72-0.78x at
// 1 x 2, Zen 5's AVX2 target); the rest from 64x784x512 at 1 x 1 on older
// code (AVX3 without VPOPCNTQ, 128-bit vectors, scalar). Arm
// (kArmPopcount; no Arm hardware here): from instruction counts under qemu,
// in the units of int16's NEON and SVE estimates (bench/README.md,
// thirty-third session: 64x784x64 at 1 x 1 bit 6.6x fewer instructions
// than int16 on NEON, 8.0x on 256-bit SVE).
double macs_per_us(IntFormat a, IntFormat w, FeatureSet have, GemmShape shape) {
  const double pass = (have & kFastPopcount)     ? 1.75e6
                      : (have & kVectorPopcount) ? 8.4e5
                      : (have & kArmPopcount)    ? ((have & kVectors256) ? 6.3e5 : 2.6e5)
                      : (have & kVectors512)     ? 2.1e5
                      : (have & kVectors256)     ? 1.35e5
                      : (have & kVectors)        ? 6.1e4
                                                 : 2.2e4;
  const size_t k = shape.k_or_reference(), n = shape.n_or_reference();
  const double kw = static_cast<double>(ceil_div(k, 64));
  const double padding = kw * 64 / static_cast<double>(k) *
                         static_cast<double>(ceil_div(n, kBitSerialBlock) * kBitSerialBlock) / static_cast<double>(n);
  return 1.0 / ((a.bits * w.bits / pass + 2e-6 / kw) * padding + packing_us(a, shape) / static_cast<double>(n));
}

}  // namespace

extern const MethodSpec kBitSerialMethod{
    "bitserial",
    "AND + popcount over bit planes, weighted by 2^(i+j); cost grows with a_bits * w_bits",
    kBitSerialBlock,
    0,
    0,
    nullptr,
    [](IntFormat, IntFormat) { return true; },
    macs_per_us,
    pack_weights,
    prepare_activations,
    pack_rows,
    run_tile,
    false,
    prepare_gathered,
    pack_gathered};

}  // namespace bitlane::swar::detail
#endif  // HWY_ONCE
