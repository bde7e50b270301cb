// Methods "int8", "int7" and "amx": u8 activations x s8 weights, 4 K values
// per int32 lane, one layout (swar/dot_family.h, group 4, bytes). int8 and
// int7 share one set of register tiles (dot_tiles-inl.h) on every Highway
// target and differ in the product step:
//   int8: one VPDPBUSD per tile step on AVX3_DL (VNNI); on Arm the
//         activations with the top bit flipped (a - 128, an s8) and the
//         accumulators started from the weights' sums x 128: one SDOT, or
//         without the dot product int7's SMULL pair sums where no weight is
//         -128 (4 instructions); an exact even/odd PMADDWD emulation
//         elsewhere (9 instructions);
//   int7: activations of at most 7 bits, PMADDUBSW + PMADDWD (a pair of
//         u7 x s8 products cannot saturate int16): 3 instructions, for AVX2
//         and AVX-512 CPUs without VNNI; operands narrow enough that 16+ K
//         units of pair sums fit an int16 lane add them with PADDW and widen
//         once per chunk (BytePairSums16Product): 2 instructions. On Arm
//         with the dot product one SDOT (u7 bytes are valid s8). With
//         VNNI, int8 wins and is chosen. On NEON without it SMULL pair
//         sums (4 instructions).
// amx runs the same layout on AMX tiles (kernels/amx_tiles.h) where the CPU
// and the OS grant them, and hands int8 the rows short of a tile.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/kernels/dot_u8s8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/dot_tiles-inl.h"

#if defined(BITLANE_SWAR_DOT_U8S8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_DOT_U8S8_INL_H_
#undef BITLANE_SWAR_DOT_U8S8_INL_H_
#else
#define BITLANE_SWAR_DOT_U8S8_INL_H_
#endif
HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {

// Stored nibbles come in packed rows only (never gathered).
template <class Product, class Weights = ByteWeights>
void Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1, int32_t* out,
           size_t ldo) {
  if constexpr (!std::is_same_v<Weights, StoredNibbleWeights>) {
    if (g.row_offset) return DotTiles<Product, true, Weights>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  }
  DotTiles<Product, false, Weights>::Kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

// Product's tiles, or a dot-product instruction's where the CPU has one
// beyond its Highway target: ArmProduct's with SDOT, VnniProduct's with
// AVX-VNNI (byte_products-inl.h; templates, so that targets without them
// never instantiate them). int7 keeps its pair sums there: int8 is the
// method of VPDPBUSD, chosen over int7 wherever it is present.
template <class Product, class ArmProduct, class VnniProduct, class Weights = ByteWeights>
void TilesOrDotInstruction(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0,
                           size_t ku1, int32_t* out, size_t ldo) {
  if constexpr (kHaveArmDot) {
    if (ArmDotHere()) return Tiles<ArmProduct, Weights>(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  }
  if constexpr (kHaveAvxVnni) {
    if (AvxVnniHere()) return Tiles<VnniProduct, Weights>(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  }
  Tiles<Product, Weights>(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

// On Arm, calls that start from the weights' sums x 128 (DotArgs::flip_init)
// multiply the flipped activations alone: one SDOT a step instead of SDOT +
// SUB, and without SDOT pair sums where no weight is -128.
void DotU8S8Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                  int32_t* out, size_t ldo) {
  if constexpr (kHaveArmDot) {
    if (g.flip_init && ArmDotHere()) return Tiles<ArmDot8FlippedProduct>(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  }
  if constexpr (kHaveNeonPairSums) {
    if (g.flip_init && g.no_byte_min) return Tiles<NeonPairs8FlippedProduct>(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
  }
  TilesOrDotInstruction<BytesProduct, ArmDot8Product, AvxVnniProduct>(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}
void DotU7S8Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                  int32_t* out, size_t ldo) {
  TilesOrDotInstruction<BytePairsProduct, ArmDot7Product, BytePairsProduct>(g, m0, m1, col0, col1, ku0, ku1, out,
                                                                            ldo);
}
// Nibbles minus 8 and stored nibbles (0..15) are both s8: int8's products.
void DotU8S4Tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                  int32_t* out, size_t ldo) {
  if (g.stored_nibbles)  // packed rows only (dot_family.cc)
    TilesOrDotInstruction<BytesProduct, ArmDot8Product, AvxVnniProduct, StoredNibbleWeights>(g, m0, m1, col0, col1,
                                                                                             ku0, ku1, out, ldo);
  else
    TilesOrDotInstruction<BytesProduct, ArmDot8Product, AvxVnniProduct, NibbleWeights>(g, m0, m1, col0, col1, ku0,
                                                                                       ku1, out, ldo);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();
#endif  // per-target include guard

#if HWY_ONCE
#include "core/cpu_info.h"
#include "swar/kernels/amx_tiles.h"

namespace bitlane::swar::detail {
namespace {

HWY_EXPORT(DotU8S8Tiles);
HWY_EXPORT(DotU7S8Tiles);
HWY_EXPORT(DotU8S4Tiles);

void int8_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                 int32_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(DotU8S8Tiles)(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}
void int4_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                 int32_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(DotU8S4Tiles)(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}
void amx_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                int32_t* out, size_t ldo) {
  amx_int8_tiles(g, m0, m1, col0, col1, ku0, ku1, out, ldo, int8_kernel);
}
void int7_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                 int32_t* out, size_t ldo) {
  HWY_DYNAMIC_DISPATCH(DotU7S8Tiles)(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

// NEON without the dot product: the byte products are SMULL pair sums
// (kU7Dot with neither SDOT nor PMADDUBSW).
bool neon_pairs_only(FeatureSet have) { return (have & kU7Dot) && !(have & (kArmDot | kByteMulAdd)); }

// AVX_VNNI_RATE: the AVX2 target with AVX-VNNI (thirty-seventh session,
// bench/README.md; Emerald Rapids running the AVX2 target, 1 thread, 12
// accumulators a tile): int8 330-356 GOPS on 64x784x512, 3136x576x64 and
// 196x2304x256 (up to 96% of the instruction's 371), int7's pair sums
// 248-257, bit-serial 1 x 1 200-215, int16 100-128: in the units of int7's
// 1.3e5 for 255 GOPS. So every width takes int8 there, 1 bit too, except
// for single rows at 1 x 1 (gemv_share).
constexpr double AVX_VNNI_RATE = 1.75e5;

// Single rows (GemmShape::Rows::kOne: a layer's packing for its GEMVs) read
// each weight byte for one product; the byte methods' GEMVs then run at a
// fraction of the GEMM rate their estimates stand for, bit-serial's (a bit
// per weight and plane) much less so. Measured (thirty-ninth session,
// bench/README.md, `bitlane_kernels --bits ... --methods bitserial,int8,int4`
// on GEMVs of K = 128..2304, N = 10..512, 15 width pairs):
// - Intel's AVX-512 cores (kDotSharesPorts), Emerald Rapids: int8 244-259
//   GOPS whatever the widths (~0.35x its GEMMs), int4 2-5% ahead of it from
//   N = 64 on; bit-serial 1.2-2x both up to 4 plane pairs (2x2: 329 against
//   252 on 1x784x512; 3x1: 401), behind from 6 on (2x3: 234). GEMV_512 puts
//   int8 at 0.51 of its rate in bit-serial's units there. With int4col
//   (nibble_columns.cc, 1.55-1.69x int8 where N >= 256) the single-row
//   choice over 91 cells (7 shapes x 13 width pairs) is never below int8
//   and within 10% of the best but in 7 (K = 128, and N = 10, where
//   bit-serial's cost per tile and column block shows).
// - The AVX2 target with AVX-VNNI, 1 x 1 bit (GEMV_AVX_VNNI_1BIT), int8 /
//   bit-serial: 1x784x512 0.74, 1x512x512 0.68, 1x2304x256 0.64, 1x784x64
//   0.76, 1x300x40 0.66, 1x512x10 0.56; 1.06 at 1x128x512 and 1.18 at
//   1x64x64; level at 2 rows, 0.85x at 4. int4 runs the same products (0.9x
//   int8 there, 1.1-1.45x where N <= 40). Other widths unmeasured: left.
// Elsewhere (Zen 4 / 5, AVX2 without VNNI, Arm) not measured: 1.
constexpr double GEMV_512 = 0.51;
constexpr double GEMV_AVX_VNNI_1BIT = 0.62;
double gemv_share(IntFormat a, IntFormat w, FeatureSet have, GemmShape shape) {
  if (shape.rows != GemmShape::Rows::kOne || !(have & kByteDot)) return 1.0;
  if (have & kVectors512) return (have & kDotSharesPorts) ? GEMV_512 : 1.0;
  return a.bits == 1 && w.bits == 1 ? GEMV_AVX_VNNI_1BIT : 1.0;
}
// bench/README.md, 64x784x512: ~600 GOPS with VNNI (AVX3_DL), ~100 on AVX2
// through the emulation, 7 on the scalar fallback; flat in the widths.
// Arm: ARM_DOT_RATE and ARM_FLIPPED below. `flipped`: the products that
// start from 128 x the weights' sums (int8's byte weights; int4's nibbles
// keep SDOT + SUB and the emulation).
double byte_dot_rate(FeatureSet have, bool flipped) {
  return (have & kByteDot)                      ? ((have & kVectors512) ? 3.0e5 : AVX_VNNI_RATE)
         : (have & kArmDot)                     ? ((have & kVectors256) ? (flipped ? 3.2e5 : 3.0e5)
                                                                        : (flipped ? 1.4e5 : 9.0e4))
         : (neon_pairs_only(have) && flipped)   ? 5.5e4
         : (have & kVectors512)                 ? 8.0e4
         : (have & kVectors256)                 ? 5.0e4
         : (have & kVectors)                    ? 2.5e4
                                                : 3.0e3;
}
// ARM_FLIPPED (thirty-fourth session, bench/README.md): 64x784x64 at 8 bits,
// instructions per GEMM under qemu: NEON with SDOT 0.71M -> 0.45M (SDOT
// alone), SVE2 256-bit 0.27M -> 0.25M; cortex-a53 (no SDOT, weights in
// [-127, 127]) 2.29M -> 1.14M, int16 2.24M. Weights holding -128 keep the
// emulation on NEON without SDOT (2% behind int16, which this cannot see).
double int8_macs_per_us(IntFormat a, IntFormat w, FeatureSet have, GemmShape shape) {
  return byte_dot_rate(have, true) * dot_column_share(shape, have) * gemv_share(a, w, have, shape);
}
// bench/README.md, 64x784x512, 1 thread on a Zen 5: 253 GOPS on AVX2 (int8's
// emulation 155, int16 180), 495 on AVX3 without VNNI (int8 355, int16 343);
// below VPDPBUSD (int8, ~950) where VNNI is present.
// Operands narrow enough for int16 pair sums over 16+ units (dot_pair_units;
// 4-bit x 4-bit: 136) skip a multiply per step: bench/README.md, twenty-first
// session, 64x784x512 on AVX2 and AVX3: 1.1x at 16 units, 1.3x at 32-33,
// 1.45x from 64 on. Not counted at 1 x 1 bit for products that may be GEMVs,
// which stay on bit-serial: its 1-bit weights win GEMVs (1x784x512: 307-311
// against 222-261 GOPS on AVX2, 578-584 against 289-297 on AVX3; Emerald
// Rapids' AVX2, thirty-ninth session: 207 against 171). Counted for many
// rows (GemmShape::Rows::kMany): a convolution's pixels read in place, which are never
// GEMVs (without it ResNet's 64-channel convolutions went to bit-serial on
// AVX2 at 1 bit and ran 12-27% slower than int7 in place; bench/README.md,
// twenty-third session), and the second packing a dense layer keeps for
// calls of 2 rows or more (ops/quantized_matmul.h, kManyRows: int7 1.06-1.13x
// bit-serial from 2 to 32 rows on Emerald Rapids' AVX2).
// With 128-bit vectors (SSE4): half AVX2's rate, as for int16 (dot_s16.cc);
// measured 1.3-1.9x int16 at 2..7 bits on 64x784x512 and 3136x576x64 (Zen 5
// running the SSE4 target, twenty-third session).
// ARM_DOT_RATE: with SDOT (Arm; no Arm hardware here) from instruction
// counts under qemu, in the units of int16's estimates there (3e4 on NEON,
// 6e4 with 256-bit SVE): bench/README.md, thirty-third session, 64x784x64
// at 4 bits (int7) and 8 bits (int8), instructions per GEMM: NEON int16
// 2.21M, int7 0.44M (5.0x fewer), int8 0.71M (3.1x; the emulation 2.33M);
// SVE 256-bit int16 1.35M, int7 0.20M (6.8x), int8 0.27M (5.0x).
// NEON without the dot product (SMULL pair sums: kU7Dot alone), counted
// the same way on qemu's cortex-a53: 1.10M instructions (4 x 4 bits) and
// 1.13M (7 x 8), 2.0x fewer than int16 -- twice its rate.
double int7_macs_per_us(IntFormat a, IntFormat w, FeatureSet have, GemmShape shape) {
  const bool vnni512 = (have & kByteDot) && (have & kVectors512);  // int8's VPDPBUSD on zmm: far ahead
  const double rate = vnni512                  ? 2.0e5
                      : (have & kArmDot)       ? ((have & kVectors256) ? 4.0e5 : 1.5e5)
                      : neon_pairs_only(have)  ? 6.0e4
                      : (have & kVectors512)   ? 1.6e5
                      : (have & kVectors256)   ? 9.0e4
                                               : 4.5e4;
  const bool gemv_bits = a.bits == 1 && w.bits == 1 && shape.rows != GemmShape::Rows::kMany;
  const bool int16_sums = (have & kByteMulAdd) && !vnni512;  // BytePairSums16Product's targets
  const size_t units = !int16_sums || gemv_bits ? 0 : dot_pair_units(a, w, kBytes4);
  const double sums16 = units >= 64 ? 1.45 : units >= 32 ? 1.3 : units >= 16 ? 1.1 : 1.0;
  return rate * sums16 * dot_column_share(shape, have) * gemv_share(a, w, have, shape);
}

// What nibbles buy is bytes: half int8's weight bytes to stream, paid for by
// unpacking them in registers. bench/README.md (fourteenth session), Zen 5,
// 1 thread, 4 x 4 bits, int4 / int8: weights beyond L1 (48 KB here) 1.04-1.35x
// on GEMVs (1x400x120 .. 1x784x512) and 0.95-1.04x on GEMMs; weights that fit
// L1 as bytes 0.83-0.97x, GEMV or GEMM (1x576x64, 1x288x64; ResNet's
// 16- and 32-channel convolutions: 0.84-0.96x), where int8 reads them from L1
// anyway. With 512-bit VNNI it is chosen for weights of <= 4 bits beyond L1
// (or of unknown shape); without VNNI (the emulated dot product) and on ARM
// it is unmeasured and ranked below int8 / int7. Not where the unpacking takes
// VPDPBUSD's ports (kDotSharesPorts; bench/README.md, thirty-sixth session,
// Emerald Rapids, 4 x 4 bits, int4 / int8: 0.73-0.75x on 64x784x512 and
// 64x512x512, 1.02x on 1x784x512 with L2 feeding int8's bytes fast enough).
double int4_macs_per_us(IntFormat a, IntFormat w, FeatureSet have, GemmShape shape) {
  const bool known = shape.k != 0 && shape.n != 0;
  const bool fits_l1 = known && shape.k * shape.n <= l1_data_cache_bytes();
  const bool vnni512 = (have & kByteDot) && (have & kVectors512);
  const bool pays = vnni512 && !(have & kDotSharesPorts) && !fits_l1;
  // Intel's GEMVs (gemv_share): 1.02-1.05x int8 where the bytes do not fit L1.
  const bool gemv_pays = vnni512 && (have & kDotSharesPorts) && !fits_l1 && shape.rows == GemmShape::Rows::kOne;
  // AVX-VNNI: 0.53-0.63x int8 on 64x784x512 and 3136x576x64, 0.81-0.86x on
  // 1x784x512 (the nibbles' unpacking beside one VPDPBUSD a step, and int8's
  // tiles hold 12 accumulators where int4's hold 8).
  const double behind = (have & kByteDot) && !vnni512 ? 0.7 : 0.9;
  return byte_dot_rate(have, false) * dot_column_share(shape, have) * (pays ? 1.05 : gemv_pays ? 1.03 : behind) *
         gemv_share(a, w, have, shape);
}

// Not measured: no AMX CPU has run this kernel yet. oneDNN's AMX kernels
// reach 1640-2350 GOPS on one Sapphire Rapids core (bench/README.md), 2.6-3.9x
// its VNNI ones; this assumes ~60% of that, just below bit-serial's 1 x 1
// rate, so that 1-bit GEMMs stay on popcount until a measurement says
// otherwise. Only GEMMs of 16 rows or more use tiles (the rest is int8):
// single rows are int8's.
double amx_macs_per_us(IntFormat, IntFormat, FeatureSet have, GemmShape shape) {
  return (have & kAmxInt8) && shape.rows != GemmShape::Rows::kOne ? 6.0e5 * dot_column_share(shape, have) : 0.0;
}

}  // namespace

extern constinit const MethodSpec kInt8Method = dot_method<kBytes4>(
    "int8", "operands widened to bytes, 4-way u8 x s8 dot products into int32 (VPDPBUSD; Arm: SDOT, or SMULL pair sums; emulated elsewhere)", 0,
    nullptr, [](IntFormat a, IntFormat w) { return a.bits <= 8 && w.bits <= 8; }, int8_macs_per_us,
    [](const TileJob& job) { run_dot_tile(job, int8_kernel, kBytes4); }, true);

extern constinit const MethodSpec kInt7Method = dot_method<kBytes4>(
    "int7", "activations of <= 7 bits x s8 weights: PMADDUBSW pair sums (cannot saturate) + PMADDWD into int32; Arm: SDOT, or SMULL pair sums",
    kU7Dot, &kInt8Method,  // the same layout: runs as int8 where none of them is present
    [](IntFormat a, IntFormat w) { return a.bits <= 7 && w.bits <= 8; }, int7_macs_per_us,
    [](const TileJob& job) { run_dot_tile(job, int7_kernel, kBytes4); }, true);

// AMX tile loads need rows at one stride: gathered activations are copied
// into rows first.
extern constinit const MethodSpec kAmxMethod = dot_method<kBytes4>(
    "amx", "operands widened to bytes, 16 x 16 x 64 u8 x s8 tile products into int32 (AMX TDPBUSD)",
    kAmxInt8 | kByteDot, &kInt8Method,  // the same layout: runs as int8 without AMX
    [](IntFormat a, IntFormat w) { return a.bits <= 8 && w.bits <= 8; }, amx_macs_per_us,
    [](const TileJob& job) { run_dot_tile(job, amx_kernel, kBytes4); }, false);

extern constinit const MethodSpec kInt4Method = dot_method<kNibbles4>(
    "int4", "weights of <= 4 bits as nibbles (half int8's bytes), unpacked in registers into int8's dot products",
    0, nullptr, [](IntFormat a, IntFormat w) { return a.bits <= 8 && w.bits <= 4; }, int4_macs_per_us,
    [](const TileJob& job) { run_dot_tile(job, int4_kernel, kNibbles4); }, true);

}  // namespace bitlane::swar::detail
#endif  // HWY_ONCE
