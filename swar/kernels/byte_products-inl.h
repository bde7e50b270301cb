// Per-target products of packed integer units, shared by the dot-product
// tiles (dot_tiles-inl.h) and the kernels outside swar that form dot
// products of their own (ops/kernels/winograd.cc): each adds to every int32
// lane the products of its 2 int16 or 4 byte sub-lanes, exactly (modulo
// 2^32). Included once per Highway target (foreach_target); on AVX3_DL it
// widens the target string for VPDPBUSD on zmm registers, so include it
// before anything that compiles for that target.

#if defined(BITLANE_SWAR_BYTE_PRODUCTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_BYTE_PRODUCTS_INL_H_
#undef BITLANE_SWAR_BYTE_PRODUCTS_INL_H_
#else
#define BITLANE_SWAR_BYTE_PRODUCTS_INL_H_
#endif

#include <cstdint>
#include <type_traits>
#include <utility>

#include "hwy/highway.h"
#include "swar/cpu_features.h"                // arm_dot_product
#include "swar/kernels/avx3_dl_target-inl.h"  // VPDPBUSD on zmm registers

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ------------------------------------------------------- pairwise products
//
// Both take int32 vectors whose lanes are reinterpreted as 2 int16 or 4
// bytes, and add to each int32 lane the products of its own sub-lanes,
// modulo 2^32. HWY_SCALAR (GCC < 12.3's fallback target) has one lane per
// vector and cannot reinterpret it as bytes, so it gets plain C++.

#if HWY_TARGET == HWY_SCALAR
template <class D32, class V32>
HWY_INLINE V32 MulPairsAdd(D32 d32, V32 x, V32 y, V32 acc) {
  const uint32_t xv = static_cast<uint32_t>(hn::GetLane(x)), yv = static_cast<uint32_t>(hn::GetLane(y));
  const int32_t lo = int32_t{static_cast<int16_t>(xv)} * static_cast<int16_t>(yv);
  const int32_t hi = int32_t{static_cast<int16_t>(xv >> 16)} * static_cast<int16_t>(yv >> 16);
  return hn::Set(d32, static_cast<int32_t>(static_cast<uint32_t>(hn::GetLane(acc)) +
                                           static_cast<uint32_t>(lo) + static_cast<uint32_t>(hi)));
}
template <class D32, class V32>
HWY_INLINE V32 DotBytes(D32 d32, V32 a, V32 w, V32 acc) {
  const uint32_t av = static_cast<uint32_t>(hn::GetLane(a)), wv = static_cast<uint32_t>(hn::GetLane(w));
  int32_t sum = 0;
  for (int t = 0; t < 4; ++t)
    sum += int32_t{static_cast<uint8_t>(av >> (8 * t))} * static_cast<int8_t>(wv >> (8 * t));
  return hn::Set(d32, static_cast<int32_t>(static_cast<uint32_t>(hn::GetLane(acc)) +
                                           static_cast<uint32_t>(sum)));
}
#else
// acc + (x[2c] * y[2c] + x[2c+1] * y[2c+1]) for the int16 halves of lane c.
template <class D32, class V32>
HWY_INLINE V32 MulPairsAdd(D32 d32, V32 x32, V32 y32, V32 acc) {
#if HWY_ARCH_X86
  // PMADDWD; Highway's lane order for x86 is exactly the pairwise one.
  const hn::Repartition<int16_t, D32> d16;
  V32 unused = hn::Zero(d32);
  return hn::ReorderWidenMulAccumulate(d32, hn::BitCast(d16, x32), hn::BitCast(d16, y32), acc,
                                       unused);
#else
#if HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64
  if constexpr (hn::MaxLanes(d32) == 4) {
    const int16x8_t x = vreinterpretq_s16_s32(x32.raw), y = vreinterpretq_s16_s32(y32.raw);
    const int32x4_t lo = vmull_s16(vget_low_s16(x), vget_low_s16(y));
    const int32x4_t hi = vmull_high_s16(x, y);
    return hn::Add(acc, V32(vpaddq_s32(lo, hi)));
  }
#endif
  const auto xe = hn::ShiftRight<16>(hn::ShiftLeft<16>(x32));
  const auto ye = hn::ShiftRight<16>(hn::ShiftLeft<16>(y32));
  const auto xo = hn::ShiftRight<16>(x32);
  const auto yo = hn::ShiftRight<16>(y32);
  return hn::Add(acc, hn::Add(hn::Mul(xe, ye), hn::Mul(xo, yo)));
#endif
}

// acc + sum of the 4 products a[4c+t] * w[4c+t] (a unsigned, w signed bytes)
// in int32 lane c: VPDPBUSD where the target has it.
template <class D32, class V32>
HWY_INLINE V32 DotBytes(D32 d32, V32 a, V32 w, V32 acc) {
#if HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(d32) == 16) {
    return V32{_mm512_dpbusd_epi32(acc.raw, a.raw, w.raw)};
  }
#endif
  // Even and odd bytes widened in place to int16 halves of each int32 lane.
  const hn::Repartition<uint16_t, D32> du16;
  const hn::Repartition<int16_t, D32> d16;
  const auto a_even = hn::And(hn::BitCast(du16, a), hn::Set(du16, 0x00FF));
  const auto a_odd = hn::ShiftRight<8>(hn::BitCast(du16, a));
  const auto w16 = hn::BitCast(d16, w);
  const auto w_even = hn::ShiftRight<8>(hn::ShiftLeft<8>(w16));
  const auto w_odd = hn::ShiftRight<8>(w16);
  acc = MulPairsAdd(d32, hn::BitCast(d32, a_even), hn::BitCast(d32, w_even), acc);
  return MulPairsAdd(d32, hn::BitCast(d32, a_odd), hn::BitCast(d32, w_odd), acc);
}
#endif

struct BytesProduct {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    return DotBytes(d32, a, w, acc);
  }
};
// PMADDUBSW (u8 x s8 byte pairs summed into int16 lanes), PMADDWD against
// ones (int16 pairs summed into int32 lanes) and a register barrier, at the
// width of the raw register the vector holds. Highway 1.0.3 names neither
// instruction. x86 targets with PMADDUBSW only (kHavePairSums16; SSSE3 has it
// too, but that target, older than every SSE4 CPU, keeps int8's emulation
// rather than another set of tiles to compile).
#if HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define BITLANE_PAIR_SUMS16 1  // undefined again after the products below
constexpr bool kHavePairSums16 = true;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define BITLANE_HAVE_512 1
#endif
template <class Raw>
HWY_INLINE Raw MulBytePairs(Raw a, Raw w) {
  if constexpr (sizeof(Raw) == 16) return _mm_maddubs_epi16(a, w);
#if HWY_TARGET != HWY_SSE4
  else if constexpr (sizeof(Raw) == 32) return _mm256_maddubs_epi16(a, w);
#endif
#ifdef BITLANE_HAVE_512
  else return _mm512_maddubs_epi16(a, w);
#endif
}
template <class Raw>
HWY_INLINE Raw AddInt16Pairs(Raw x) {
  if constexpr (sizeof(Raw) == 16) return _mm_madd_epi16(x, _mm_set1_epi16(1));
#if HWY_TARGET != HWY_SSE4
  else if constexpr (sizeof(Raw) == 32) return _mm256_madd_epi16(x, _mm256_set1_epi16(1));
#endif
#ifdef BITLANE_HAVE_512
  else return _mm512_madd_epi16(x, _mm512_set1_epi16(1));
#endif
}
// The empty asm makes a sum a register before the next step: without it
// GCC 12 computed all of a unit's products first and ran out of AVX2's 16
// registers (an accumulator on the stack and 8 copies per unit; 7840x144x16
// at 4 bits: 140 GOPS without, 192-223 with). "v" reaches zmm16..31.
template <class Raw>
HWY_INLINE Raw InRegister(Raw r) {
#ifdef BITLANE_HAVE_512
  asm("" : "+v"(r));
#else
  asm("" : "+x"(r));
#endif
  return r;
}
#undef BITLANE_HAVE_512
#else
constexpr bool kHavePairSums16 = false;
#endif
// True when a V32 fills its raw register (the instructions above see all of it).
template <class D32, class V32>
constexpr bool FillsRegister() {
  return kHavePairSums16 && hn::MaxLanes(D32()) * sizeof(int32_t) == sizeof(std::declval<V32>().raw);
}

// Activations of at most 7 bits (u8 <= 127) x s8 weights: PMADDUBSW's pair
// sums (at most 2 x 127 x 128 in magnitude) cannot saturate, so pair sums
// into int16 then PMADDWD against ones into int32 are exact -- 2 instructions
// + 1 add per 4-way step where VNNI is missing (the exact even/odd
// emulation in DotBytes takes 9). On NEON (without the dot product, which
// takes ArmDot7Product below) the same bound makes bytes <= 127 valid s8:
// SMULL + SMULL2 (products into int16), ADDP (pairs, at most 32512) and
// SADALP (pairs of pairs into the int32 lanes), 4 instructions where the
// emulation takes 8. Elsewhere: DotBytes.
#if HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64
constexpr bool kHaveNeonPairSums = true;
// acc + the 4 products of each int32 lane's s8 sub-lanes, for operands whose
// pairs of products fit int16 (|sum| <= 32767).
template <class V32>
HWY_INLINE V32 NeonPairSums(V32 a, V32 w, V32 acc) {
  const int8x16_t a8 = vreinterpretq_s8_s32(a.raw), w8 = vreinterpretq_s8_s32(w.raw);
  const int16x8_t lo = vmull_s8(vget_low_s8(a8), vget_low_s8(w8)), hi = vmull_high_s8(a8, w8);
  return V32(vpadalq_s16(acc.raw, vpaddq_s16(lo, hi)));
}
#else
constexpr bool kHaveNeonPairSums = false;
template <class V32>
HWY_INLINE V32 NeonPairSums(V32, V32, V32 acc) {
  return acc;  // not reached: the kernels ask kHaveNeonPairSums first
}
#endif
struct BytePairsProduct {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
#ifdef BITLANE_PAIR_SUMS16
    if constexpr (FillsRegister<D32, V32>()) return hn::Add(acc, V32{AddInt16Pairs(MulBytePairs(a.raw, w.raw))});
#endif
    if constexpr (kHaveNeonPairSums && hn::MaxLanes(d32) == 4) return NeonPairSums(a, w, acc);
    return DotBytes(d32, a, w, acc);
  }
};
// BytePairsProduct with fewer instructions for narrow operands: the
// PMADDUBSW pair sums are added in the int16 lanes (PADDW) and widened into
// int32 (PMADDWD against ones) once per tile call instead of every unit --
// 2 instructions per step instead of 3, and one multiply instead of two.
// Exact while a call spans at most DotArgs::pair_units units (4-bit x
// 4-bit: 136); DotTiles::Kernel keeps to that. Where kHavePairSums16; the
// accumulators start at zero, and Widen(d32, acc) gives the int32 sums the
// tile adds to its start values.
struct BytePairSums16Product {
  static constexpr bool kWidenAtEnd = true;
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
#ifdef BITLANE_PAIR_SUMS16
    if constexpr (FillsRegister<D32, V32>()) {
      const hn::Repartition<int16_t, D32> d16;
      const auto sum = hn::Add(hn::BitCast(d16, acc), hn::BitCast(d16, V32{MulBytePairs(a.raw, w.raw)}));
      return V32{InRegister(hn::BitCast(d32, sum).raw)};
    }
#endif
    return BytePairsProduct::Step(d32, a, w, acc);  // not reached: kHavePairSums16 is false
  }
  template <class D32, class V32>
  static HWY_INLINE V32 Widen(D32 d32, V32 acc) {
#ifdef BITLANE_PAIR_SUMS16
    if constexpr (FillsRegister<D32, V32>()) return V32{AddInt16Pairs(acc.raw)};
#endif
    return acc;  // not reached
  }
};
#undef BITLANE_PAIR_SUMS16
template <class Product>
constexpr bool WidensAtEnd() {
  if constexpr (requires { Product::kWidenAtEnd; }) return Product::kWidenAtEnd;
  else return false;
}

// ------------------------------------------------------- Arm's SDOT
//
// SDOT adds to each int32 lane the 4 products of its signed bytes: one
// instruction per 4-way step where int8's emulation above takes about 9.
// Every SVE core has it; NEON cores from ARMv8.2's dot-product extension
// (Cortex-A55/A76 and later, Apple M1, Graviton2), which the NEON target's
// code may not assume: arm_dot_product() asks the CPU, and the kernels pick
// these products only where ArmDotHere() is true. GCC builds the NEON target
// for plain ARMv8.0 (+crypto), so there SDOT is inline assembly (not
// volatile: identical products are shared like any expression) after an
// .arch that adds it: binutils 2.40 takes dotprod only from ARMv8.2 on, and
// .arch_extension alone is refused. The wider .arch stays for the rest of
// the function, harmless (GCC emits only what the target allows).
#if HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
constexpr bool kHaveArmDot = true;
HWY_INLINE bool ArmDotHere() { return true; }
template <class V32>
HWY_INLINE V32 SignedDot(V32 a, V32 w, V32 acc) {
  return svdot_s32(acc, svreinterpret_s8_s32(a), svreinterpret_s8_s32(w));
}
#elif HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64
constexpr bool kHaveArmDot = true;
HWY_INLINE bool ArmDotHere() { return arm_dot_product(); }
#ifndef BITLANE_ARCH_DOTPROD
#define BITLANE_ARCH_DOTPROD ".arch armv8.2-a+crypto+dotprod\n\t"
#endif
template <class V32>
HWY_INLINE V32 SignedDot(V32 a, V32 w, V32 acc) {
  if constexpr (sizeof(acc.raw) == 16)
    asm(BITLANE_ARCH_DOTPROD "sdot %0.4s, %1.16b, %2.16b" : "+w"(acc.raw) : "w"(a.raw), "w"(w.raw));
  else
    asm(BITLANE_ARCH_DOTPROD "sdot %0.2s, %1.8b, %2.8b" : "+w"(acc.raw) : "w"(a.raw), "w"(w.raw));
  return acc;
}
#else
constexpr bool kHaveArmDot = false;
HWY_INLINE bool ArmDotHere() { return false; }
template <class V32>
HWY_INLINE V32 SignedDot(V32, V32, V32 acc) {
  return acc;  // not reached: the kernels ask kHaveArmDot first
}
#endif

// ------------------------------------------------------- AVX-VNNI
//
// The VEX-encoded VPDPBUSD on 256-bit vectors: int8's exact u8 x s8 4-way
// step in one instruction where the AVX2 target otherwise emulates it (9
// instructions) or, for activations of <= 7 bits, takes PMADDUBSW pair sums
// (2-3). Intel's cores without AVX-512 have it from Alder Lake on, and its
// E-core Xeons; AMD's from Zen 5 (bench/bitlane_ceilings on Emerald Rapids:
// 371 GOPS, 2.2x the pair sums' 170). Highway 1.0.3 has no target for it, so
// the AVX2 target asks the CPU (avx_vnni_usable()) and the kernels take
// these products where AvxVnniHere(). Inline assembly: the intrinsic would
// need the whole calling function built for avxvnni, and {vex} makes binutils
// pick this encoding over AVX512-VNNI's (EVEX), which such CPUs lack. The
// weights may come straight from memory (the instruction's r/m operand).
#if HWY_TARGET == HWY_AVX2
constexpr bool kHaveAvxVnni = true;
HWY_INLINE bool AvxVnniHere() { return avx_vnni_usable(); }
struct AvxVnniProduct {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    if constexpr (sizeof(acc.raw) == 32) {
      asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc.raw) : "x"(a.raw), "xm"(w.raw));
      return acc;
    }
    return DotBytes(d32, a, w, acc);  // vectors narrower than the register
  }
};
#else
constexpr bool kHaveAvxVnni = false;
HWY_INLINE bool AvxVnniHere() { return false; }
using AvxVnniProduct = BytesProduct;  // not reached: the kernels ask kHaveAvxVnni first
#endif

// int7 (activations of at most 7 bits): bytes <= 127 are the same bits as
// s8, so a step is one SDOT.
struct ArmDot7Product {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32, V32 a, V32 w, V32 acc) {
    return SignedDot(a, w, acc);
  }
};
// int8 (u8 activations up to 255): a - 128 is the s8 with a's top bit
// flipped, and a * w = (a - 128) * w + 128 * w. The second term depends on
// the weights alone -- minus one SDOT of w with bytes of -128 -- so the
// compiler computes it once per weight vector for all rows of a tile, as it
// flips each row's bytes once for all its column vectors: SDOT + SUB per step.
struct ArmDot8Product {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    const V32 minus128 = hn::Set(d32, static_cast<int32_t>(0x80808080u));
    const V32 minus128_w = SignedDot(minus128, w, hn::Zero(d32));
    return hn::Sub(SignedDot(hn::Xor(a, minus128), w, acc), minus128_w);
  }
};

// int8 as above for calls that start from 128 x the weights' sums
// (DotArgs::flip_init): one SDOT a step.
struct ArmDot8FlippedProduct {
  static constexpr bool kFlipStart = true;
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    return SignedDot(hn::Xor(a, hn::Set(d32, static_cast<int32_t>(0x80808080u))), w, acc);
  }
};
// int8 on NEON without the dot product, for weights with no -128 and calls
// that start from 128 x their sums: (a - 128) x w lies in [-16256, 16256],
// so a pair of products fits int16 and int7's pair sums hold (4
// instructions a step where the even/odd emulation takes 8). A -128 weight
// against a - 128 = -128 twice would make 32768: those weights keep the
// emulation.
struct NeonPairs8FlippedProduct {
  static constexpr bool kFlipStart = true;
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    return NeonPairSums(hn::Xor(a, hn::Set(d32, static_cast<int32_t>(0x80808080u))), w, acc);
  }
};
template <class Product>
constexpr bool FlipsAtStart() {
  if constexpr (requires { Product::kFlipStart; }) return Product::kFlipStart;
  else return false;
}

struct WordsProduct {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    return MulPairsAdd(d32, a, w, acc);
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
