// What the GEMM kernels may use, as feature bits: the instructions of the
// SIMD target the kernels currently dispatch to (what that target's compiled
// code contains), plus what the CPU and the OS grant beyond Highway's targets
// (AMX tiles). Methods (swar/method_table.h) say which bits they need and
// estimate their speed from the bits present -- never from target names.
#pragma once

#include <cstdint>
#include <string>

namespace bitlane::swar {

enum Feature : uint32_t {
  kVectors = 1u << 0,         // a SIMD target, not the portable fallback
  kVectors256 = 1u << 1,      // vectors of at least 256 bits
  kVectors512 = 1u << 2,      // vectors of 512 bits
  kVectorPopcount = 1u << 3,  // popcount of 64-bit lanes in one instruction (VPOPCNTQ)
  kByteDot = 1u << 4,         // u8 x s8 4-way dot product into int32 (VPDPBUSD: AVX512-VNNI, or AVX-VNNI on AVX2)
  kByteMulAdd = 1u << 5,      // u8 x s8 pair products into int16 (PMADDUBSW)
  kAmxInt8 = 1u << 6,         // AMX tiles with TDPBUSD, granted by the OS
  // VPOPCNTQ on a core that runs AND + VPOPCNTQ + ADD ~5x as fast as
  // VPDPBUSD (AMD Zen 5 measured: bench/bitlane_ceilings 5.2x; Zen 4, the
  // other AMD core with VPOPCNTQ, 5.3x by its port counts), against ~2.7x on
  // Intel's (Sapphire Rapids measured). Bit-serial's estimate follows it.
  kFastPopcount = 1u << 7,
  kArmDot = 1u << 8,  // s8 x s8 4-way dot product into int32 (Arm SDOT: SVE, or NEON with FEAT_DotProd)
  // Exact u7 x s8 4-way products without int8's emulation: PMADDUBSW +
  // PMADDWD (kByteMulAdd), SDOT (kArmDot) or NEON's SMULL pair sums. What
  // method int7 needs.
  kU7Dot = 1u << 9,
  // Popcount of 64-bit lanes on Arm (NEON: CNT on bytes + 3 pairwise adds;
  // SVE: CNT on 64-bit lanes), far cheaper than SSE4's table lookups.
  kArmPopcount = 1u << 10,
  // VPDPBUSD on both of the core's 512-bit vector ports, which run every
  // other 512-bit instruction too (Intel's AVX-512 server cores: ports 0 and
  // 5; bench/bitlane_ceilings on Emerald Rapids: 735 GOPS, 1.6x Zen 4's), so
  // work beside the products -- int4's nibble unpacking, Winograd's
  // transforms -- takes their issue slots: int4 ran 0.75x int8 on GEMMs and
  // Winograd 0.93x the direct GEMM on ResNet at 4 bits there. AMD's cores run
  // that work on ports the products leave free. Set on Intel CPUs for targets
  // with VNNI on 512-bit vectors.
  kDotSharesPorts = 1u << 11,
};
using FeatureSet = uint32_t;

// Features of the target the kernels dispatch to now (follows force_target
// and BITLANE_TARGET). AMX counts only on a target with 512-bit VNNI:
// forcing an older target (BITLANE_TARGET=AVX2) keeps the kernels to that
// target.
FeatureSet kernel_features();

// Whether the CPU has AMX-INT8 and the OS lets this process use its tile
// state (Linux: arch_prctl(ARCH_REQ_XCOMP_PERM), requested once).
bool amx_usable();

// Whether the CPU has AVX-VNNI (CPUID leaf 7, sub-leaf 1, EAX bit 4) and
// allow_avx_vnni (swar/targets.h) permits it: the AVX2 target's kernels
// then take the VEX VPDPBUSD for their byte products and report kByteDot.
bool avx_vnni_usable();

// Whether the CPU has Arm's dot-product instructions (FEAT_DotProd: SDOT,
// UDOT), which the NEON target's code may not assume (Linux: HWCAP_ASIMDDP).
// False off Arm.
bool arm_dot_product();

// "vectors 512-bit popcount byte-dot ..." for messages and selfcheck.
std::string feature_names(FeatureSet f);

namespace detail {
// Name of the Highway target the kernels currently dispatch to ("AVX3_DL").
const char* kernel_target_name();
}  // namespace detail

}  // namespace bitlane::swar
