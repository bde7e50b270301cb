// The feature bits the GEMM methods' estimates read (swar/cpu_features.h),
// against what the OS reports about the CPU (/proc/cpuinfo).
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "swar/cpu_features.h"
#include "tests/simd_targets.h"

using namespace bitlane::swar;

namespace {

// The vendor_id line of /proc/cpuinfo ("" where there is none).
std::string cpuinfo_vendor() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("vendor_id", 0) == 0) return line.substr(line.find(':') + 2);
  return "";
}

}  // namespace

TEST_CASE("cpu features: fast popcount means VPOPCNTQ on an AMD CPU, and every bit has a name") {
  const bool amd = cpuinfo_vendor() == "AuthenticAMD";
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    const FeatureSet f = kernel_features();
    CAPTURE(target);
    CHECK(((f & kFastPopcount) != 0) == (amd && (f & kVectorPopcount) != 0));
    CHECK((feature_names(f).find("fast-popcount") != std::string::npos) == ((f & kFastPopcount) != 0));
    CHECK((feature_names(f).find("popcount") != std::string::npos) == ((f & kVectorPopcount) != 0));
  });
  CHECK(feature_names(0) == "scalar");
  CHECK(feature_names(kVectors | kAmxInt8) == "vectors amx-int8");
}
