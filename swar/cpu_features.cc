// Feature bits per Highway target (compiled once per target, like the
// kernels, so each copy reports what its own code was built with), and the
// AMX permission request.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/cpu_features.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/cpu_features.h"

#if defined(BITLANE_SWAR_CPU_FEATURES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_CPU_FEATURES_INL_H_
#undef BITLANE_SWAR_CPU_FEATURES_INL_H_
#else
#define BITLANE_SWAR_CPU_FEATURES_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

FeatureSet TargetFeatures() {
  FeatureSet f = 0;
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  f |= kVectors;
  const size_t bytes = hn::Lanes(hn::ScalableTag<uint8_t>());
  if (bytes >= 32) f |= kVectors256;
  if (bytes >= 64) f |= kVectors512;
#endif
#if HWY_TARGET == HWY_AVX3_DL
  // The kernels add avx512vnni to this target (swar/kernels/avx3_dl_target-inl.h).
  f |= kVectorPopcount | kByteDot;
#endif
#if HWY_TARGET == HWY_AVX2
  if (avx_vnni_usable()) f |= kByteDot;  // VEX VPDPBUSD on ymm (byte_products-inl.h)
#endif
#if HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  f |= kByteMulAdd | kU7Dot;  // the int7 kernels' PMADDUBSW steps (dot_tiles-inl.h)
#endif
#if HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
  f |= kArmDot | kU7Dot | kArmPopcount;  // SDOT is part of every SVE core (byte_products-inl.h)
#elif HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64
  f |= kArmPopcount | kU7Dot;  // int7: SMULL pair sums, or SDOT (byte_products-inl.h)
  if (arm_dot_product()) f |= kArmDot;
#endif
  return f;
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
#include <cstring>
#include <mutex>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include "swar/targets.h"

namespace bitlane::swar {
namespace detail {
HWY_EXPORT(TargetFeatures);
HWY_EXPORT(TargetName);
const char* kernel_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }
FeatureSet target_features() { return HWY_DYNAMIC_DISPATCH(TargetFeatures)(); }
}  // namespace detail

bool amx_usable() {
  static const bool usable = [] {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    const bool amx_tile = d & (1u << 24), amx_int8 = d & (1u << 25);
    if (!amx_tile || !amx_int8) return false;
    // The tile data state is off by default for a process on Linux: ask for
    // it (ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18). A kernel
    // without the call or a refusal leaves AMX unused.
    constexpr long kArchReqXcompPerm = 0x1023, kXtileData = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXtileData) == 0;
#else
    return false;
#endif
  }();
  return usable;
}

bool avx_vnni_usable() {
#if defined(__x86_64__)
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 1, a, b, c, d);
    return (a & (1u << 4)) != 0;  // AVX-VNNI; its ymm state is AVX2's, which the target already needs
  }();
  return has && avx_vnni_allowed();
#else
  return false;
#endif
}

bool arm_dot_product() {
#if defined(__aarch64__) && defined(__linux__)
  constexpr unsigned long kHwcapAsimdDp = 1ul << 20;  // HWCAP_ASIMDDP, <asm/hwcap.h>
  static const bool has = (getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;
  return has;
#else
  return false;
#endif
}

namespace {
// The CPU's vendor string (CPUID leaf 0), "" off x86. AMD's cores with
// VPOPCNTQ (Zen 4 and later) issue it on as many ports as VPDPBUSD
// (kFastPopcount); Intel's AVX-512 cores share their VNNI ports with every
// other 512-bit instruction (kDotSharesPorts).
std::string cpu_vendor() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid(0, a, b, c, d);
  char name[12];
  std::memcpy(name, &b, 4);
  std::memcpy(name + 4, &d, 4);
  std::memcpy(name + 8, &c, 4);
  return std::string(name, 12);
#else
  return "";
#endif
}
}  // namespace

FeatureSet kernel_features() {
  apply_target_from_environment();
  FeatureSet f = detail::target_features();
  if ((f & kByteDot) && (f & kVectors512) && amx_usable()) f |= kAmxInt8;
  static const bool amd = cpu_vendor() == "AuthenticAMD", intel = cpu_vendor() == "GenuineIntel";
  if ((f & kVectorPopcount) && amd) f |= kFastPopcount;
  if ((f & kByteDot) && (f & kVectors512) && intel) f |= kDotSharesPorts;
  return f;
}

std::string feature_names(FeatureSet f) {
  static const std::pair<Feature, const char*> kNames[] = {
      {kVectors, "vectors"},         {kVectors256, "256-bit"},     {kVectors512, "512-bit"},
      {kVectorPopcount, "popcount"}, {kByteDot, "byte-dot"},       {kByteMulAdd, "byte-muladd"},
      {kAmxInt8, "amx-int8"},        {kFastPopcount, "fast-popcount"},
      {kArmDot, "arm-dot"},          {kU7Dot, "u7-dot"},           {kArmPopcount, "arm-cnt"},
      {kDotSharesPorts, "dot-shares-ports"}};
  std::string s;
  for (const auto& [bit, name] : kNames)
    if (f & bit) s += (s.empty() ? "" : " ") + std::string(name);
  return s.empty() ? "scalar" : s;
}

}  // namespace bitlane::swar
#endif  // HWY_ONCE
