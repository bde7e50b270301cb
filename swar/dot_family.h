// What the dot-product methods (int8, int16, and any kernel that multiplies
// small groups of K values into int32 lanes) share: the weight layout, the
// activation packing with its bias bookkeeping, and the tile routine that
// runs a kernel over int32 accumulators -- straight into C for int32
// results, or in K chunks short enough to be exact for int64 results.
//
// Layout (block = 16 columns, group = K values per int32 lane):
//   weights      [block of 16 cols][K unit][16 cols][group]  (w' = w - w_bias)
//   activations  [row][K unit][group]                        (a' = a - a_bias)
// With group 4 and bytes this is also the VNNI and AMX tile layout; nibble
// weights (kNibbles4) pack two K units into one unit's 64 bytes, column-paired
// nibbles (kNibbleColumns4) two blocks' units.
#pragma once

#include <cstddef>
#include <cstdint>

#include "swar/gemm_internal.h"

namespace bitlane::swar::detail {

inline constexpr size_t kDotBlock = 16;

// The share of computed columns that are real: the dot kernels run blocks
// of kDotBlock columns, but skip the vectors of the last block wholly past
// the real columns (DotTiles::Kernel), so they compute N rounded up to
// whole vectors of int32 lanes -- 16 on 512-bit targets (N = 10 computes
// 16), 8 on 256-bit ones, 4 on 128-bit NEON and SSE4 (N = 6 computes 8).
// Their estimates are per real MAC. With it, bit-serial's choice against
// int8 / int4 misjudges 13 of 238 measured cells instead of 15, all
// measured 0.89-1.09 (bench/README.md, nineteenth session, AVX-512: int8
// at K = 144 runs 280 GOPS with N = 8..10, 462 with N = 24, ~740 from N =
// 48). Below 16 lanes it counted 16 until the thirty-fourth session, and
// sent LeNet's first convolution (N = 6) at 1 bit to bit-serial on NEON.
inline double dot_column_share(GemmShape shape, FeatureSet have) {
  const size_t n = shape.n_or_reference();
  const size_t lanes = (have & kVectors512) ? 16 : (have & kVectors256) ? 8 : 4;
  return static_cast<double>(n) / static_cast<double>(ceil_div(n, lanes) * lanes);
}

struct DotLayout {
  size_t group;  // K values per int32 lane (4 bytes, 2 int16)
  size_t elem;   // bytes per value
  // The biases that bring each operand into the kernel's element type
  // (unsigned bytes x signed bytes, or int16 x int16).
  int64_t (*activation_bias)(IntFormat a);
  int64_t (*weight_bias)(IntFormat w);
  // Weights as 4-bit nibbles w' + 8 (w' in [-8, 7]): the 64 bytes of K units
  // 2p and 2p + 1 of a block share 64 bytes, unit 2p in the low nibbles.
  bool nibbles = false;
  // Weights as 4-bit nibbles pairing blocks 2q and 2q + 1 (kernels/
  // nibble_columns.cc): unit k of both in one 64 bytes, the byte of column c
  // holding block 2q's w' + 8 in its low nibble and block 2q + 1's w' (two's
  // complement) in its high one -- as an s8, 16 w'_B + w'_A + 8.
  bool column_pairs = false;
};
// u8 activations x s8 weights, 4 per lane
inline constexpr DotLayout kBytes4{4, 1,
                                   // to unsigned bytes
                                   [](IntFormat a) -> int64_t { return a.is_signed ? a.min_value() : 0; },
                                   // u8 weights to int8
                                   [](IntFormat w) -> int64_t { return (!w.is_signed && w.bits == 8) ? 128 : 0; }};
// u8 activations x 4-bit weights in nibbles, 4 per lane
inline constexpr DotLayout kNibbles4{
    4, 1, kBytes4.activation_bias,
    // unsigned 4-bit weights to [-8, 7]; the rest fit as they are
    [](IntFormat w) -> int64_t { return (!w.is_signed && w.bits == 4) ? 8 : 0; }, true};
// s16 x s16, 2 per lane
inline constexpr DotLayout kWords2{2, 2,
                                   [](IntFormat a) -> int64_t { return (!a.is_signed && a.bits == 16) ? 32768 : 0; },
                                   [](IntFormat w) -> int64_t { return (!w.is_signed && w.bits == 16) ? 32768 : 0; }};

// u8 activations x 4-bit weights in column-paired nibbles, 4 per lane
inline constexpr DotLayout kNibbleColumns4{4, 1, kBytes4.activation_bias, kNibbles4.weight_bias, false, true};

// Bytes of one 16-column block of packed weights with `units` K units (for
// column pairs, half of a pair's).
inline size_t dot_block_bytes(size_t units, const DotLayout& L) {
  return L.nibbles ? (units + 1) / 2 * 64 : L.column_pairs ? units * 32 : units * 16 * L.group * L.elem;
}

// Kernel arguments. Kernels compute the tile rows [m0, m1) x columns
// [col0, col1) (multiples of the block) over K units [ku0, ku1): initial value
// + sums of a' * w' modulo 2^32, stored to out[(m - m0) * ldo + col - col0].
struct DotArgs {
  const void* a;  // packed activations
  size_t a_row_bytes;
  const void* w;  // packed weights
  size_t w_block_bytes;
  // Optional starting values of the accumulators (the bias corrections):
  // acc(m, col) starts at col_init[col] + row_init[m]; null means 0.
  const int32_t* col_init = nullptr;
  const int32_t* row_init = nullptr;
  // Gathered activations: row m's unit k at a + row_offset[m] + unit_offset[k]
  // (instead of a + m * a_row_bytes + 4 k); null for packed rows.
  const int64_t* row_offset = nullptr;
  const uint32_t* unit_offset = nullptr;
  // The real output columns (0: not known). Columns from n on are padding of
  // the last block: kernels may leave their sums at anything.
  size_t n = 0;
  // Nibble weights (kNibbles4) multiplied as stored, w' + 8: row_init then
  // already holds - 8 * (the row's sum of a'), set by run_dot_tile.
  bool stored_nibbles = false;
  // Bytes: how many K units of PMADDUBSW pair sums an int16 lane can add up
  // exactly (dot_pair_units); int7's kernels widen to int32 once per that
  // many units instead of every unit where it is large enough.
  size_t pair_units = 0;
  // Byte weights, calls over all K units (not the int64 path's chunks):
  // 128 x each column's sum of w' (PackedData::flip_init), and whether no w'
  // is -128. Arm's int8 products multiply a - 128 (u8 with the top bit
  // flipped: an s8) and start from these sums instead of correcting every
  // step; null elsewhere, and those products correct per step.
  const int32_t* flip_init = nullptr;
  bool no_byte_min = false;
};
using DotKernel = void (*)(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0,
                           size_t ku1, int32_t* out, size_t ldo);

void pack_dot_weights(const MatrixView& w, PackedData& p, const DotLayout& layout);
void prepare_dot_activations(const MatrixView& a, IntFormat af, const PackedData& w, const GemmOptions& options,
                             PackedActivations& out, const DotLayout& layout);
bool pack_dot_rows(const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0, size_t r1,
                   const DotLayout& layout);
void run_dot_tile(const TileJob& job, DotKernel kernel, const DotLayout& layout);
// For byte layouts: the K units whose pair sums (2 products of a' x w') add
// up in an int16 lane without overflow, given both operands' ranges:
// 32767 / (2 max|a'| max|w'|) -- 136 for 4-bit x 4-bit, 1 for u7 x s8.
size_t dot_pair_units(IntFormat af, IntFormat wf, const DotLayout& layout);

// The method-table row of a dot method on layout L (swar/gemm_internal.h,
// MethodSpec): L's packers and the caller's kernel and estimate.
template <const DotLayout& L>
constexpr MethodSpec dot_method(const char* name, const char* summary, FeatureSet needs, const MethodSpec* fallback,
                                bool (*supports)(IntFormat, IntFormat),
                                double (*macs_per_us)(IntFormat, IntFormat, FeatureSet, GemmShape),
                                void (*run_tile)(const TileJob&), bool reads_gathered) {
  return MethodSpec{
      name,
      summary,
      kDotBlock,
      static_cast<int>(L.group),
      needs,
      fallback,
      supports,
      macs_per_us,
      [](const MatrixView& w, PackedData& p) { pack_dot_weights(w, p, L); },
      [](const MatrixView& a, IntFormat af, const PackedData& w, const GemmOptions& o, PackedActivations& out) {
        prepare_dot_activations(a, af, w, o, out, L);
      },
      [](const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0, size_t r1) {
        return pack_dot_rows(a, w, out, r0, r1, L);
      },
      run_tile,
      reads_gathered};
}

// How many K units one int32 pass may cover and still be exact (|sum| < 2^31)
// for activations of format af.
size_t dot_exact_units(const PackedData& w, IntFormat af, const DotLayout& layout);

}  // namespace bitlane::swar::detail
