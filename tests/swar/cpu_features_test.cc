// The feature bits the GEMM methods' estimates read (swar/cpu_features.h),
// against what the OS reports about the CPU (/proc/cpuinfo).
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "swar/cpu_features.h"
#include "swar/gemm.h"
#include "swar/targets.h"
#include "tests/simd_targets.h"

using namespace bitlane::swar;

namespace {

// What follows the ':' of /proc/cpuinfo's first line starting with `key`
// ("" where there is none).
std::string cpuinfo_value(const char* key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return line.substr(line.find(':') + 1);
  return "";
}

// The vendor_id ("" where there is none).
std::string cpuinfo_vendor() {
  const std::string v = cpuinfo_value("vendor_id");
  return v.empty() ? v : v.substr(1);
}

// A list line as " v1 v2 ... " ("" where there is none). "Features": Arm
// Linux (not qemu-user, which shows the host's file); "flags": x86 Linux.
std::string cpuinfo_list(const char* key) {
  const std::string v = cpuinfo_value(key);
  return v.empty() ? v : " " + v + " ";
}

}  // namespace

TEST_CASE("cpu features: AVX-VNNI as the OS reports it, byte-dot on the AVX2 target exactly where it is present and allowed") {
  // The AVX2 target's int8 takes AVX-VNNI's VPDPBUSD where the CPU has it
  // (swar/kernels/byte_products-inl.h); BITLANE_AVX_VNNI=0 or
  // allow_avx_vnni(false) keeps plain AVX2, whose 8 bits run int16.
  const std::string flags = cpuinfo_list("flags");
  const bool listed = flags.find(" avx_vnni ") != std::string::npos;
#if defined(__x86_64__)
  if (!flags.empty() && avx_vnni_allowed()) CHECK(avx_vnni_usable() == listed);
#else
  CHECK_FALSE(avx_vnni_usable());
#endif
  const bool was_allowed = allow_avx_vnni(false);
  CHECK_FALSE(avx_vnni_usable());
  allow_avx_vnni(was_allowed);
  const IntFormat u8{8, false}, s8{8, true};
  const GemmMethod int8 = parse_method("int8");
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    const FeatureSet f = kernel_features();
    CAPTURE(target);
    if (target == "AVX2") {
      CHECK(((f & kByteDot) != 0) == avx_vnni_usable());
      CHECK((choose_method(u8, s8, {784, 512}) == int8) == avx_vnni_usable());  // int16 without it
      CHECK(target_label(target) == (avx_vnni_usable() ? "AVX2+VNNI" : "AVX2"));  // what selfcheck and bench print
    } else {
      CHECK(target_label(target) == target);
    }
    if (f & kAmxInt8) CHECK((f & kVectors512));  // never on the AVX2 target
  });
  if (!listed) MESSAGE("no avx_vnni in /proc/cpuinfo: the AVX2 target's AVX-VNNI path is not run here");
}

TEST_CASE("cpu features: fast popcount means VPOPCNTQ on an AMD CPU, shared dot ports 512-bit VNNI on an Intel one, and every bit has a name") {
  const std::string vendor = cpuinfo_vendor();
  const bool amd = vendor == "AuthenticAMD", intel = vendor == "GenuineIntel";
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    const FeatureSet f = kernel_features();
    CAPTURE(target);
    CHECK(((f & kFastPopcount) != 0) == (amd && (f & kVectorPopcount) != 0));
    CHECK(((f & kDotSharesPorts) != 0) == (intel && (f & kByteDot) && (f & kVectors512)));
    CHECK((feature_names(f).find("fast-popcount") != std::string::npos) == ((f & kFastPopcount) != 0));
    CHECK((feature_names(f).find("dot-shares-ports") != std::string::npos) == ((f & kDotSharesPorts) != 0));
    CHECK((feature_names(f).find("popcount") != std::string::npos) == ((f & kVectorPopcount) != 0));
  });
  CHECK(feature_names(0) == "scalar");
  CHECK(feature_names(kVectors | kAmxInt8) == "vectors amx-int8");
}

TEST_CASE("cpu features: Arm's SDOT on SVE targets and where the CPU has the dot product, and int7 runs where a u7 dot does") {
  // int7 and int8 take SDOT on Arm (swar/kernels/byte_products-inl.h); the
  // gemm suite checks their sums on qemu's cortex-a53 (no dot product) and
  // max (SVE2 and the dot product), on every target.
  const std::string features = cpuinfo_list("Features");
  if (!features.empty())
    CHECK(arm_dot_product() == (features.find(" asimddp ") != std::string::npos));
  else
    MESSAGE("no Features line in /proc/cpuinfo (not Arm, or qemu-user): arm_dot_product() not compared with it");
#if !defined(__aarch64__)
  CHECK_FALSE(arm_dot_product());
#endif
  const GemmMethod int7 = parse_method("int7");
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    const FeatureSet f = kernel_features();
    CAPTURE(target);
    const bool sve = target.rfind("SVE", 0) == 0;
    CHECK(((f & kArmDot) != 0) == (sve || (target == "NEON" && arm_dot_product())));
    CHECK(((f & kArmPopcount) != 0) == (sve || target == "NEON"));
    CHECK(((f & kU7Dot) != 0) == ((f & (kByteMulAdd | kArmDot)) != 0 || target == "NEON"));
    CHECK(method_runs_here(int7) == ((f & kU7Dot) != 0));
    CHECK((feature_names(f).find("arm-dot") != std::string::npos) == ((f & kArmDot) != 0));
  });
}
