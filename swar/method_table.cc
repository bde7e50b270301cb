// Which GEMM method runs a pair of operand widths on a SIMD target. The table
// is the outcome of bench/bitlane_kernels (see bench/README.md); change it
// only with a measurement.
#include <string>

#include "swar/gemm.h"
#include "swar/targets.h"

namespace bitlane::swar {

GemmMethod choose_method(IntFormat a, IntFormat w) {
  const std::string target = current_target();
  const bool has_popcount = target == "AVX3_DL" || target == "NEON" ||
                            target.rfind("SVE", 0) == 0;
  if (has_popcount && a.bits * w.bits <= 1) return GemmMethod::kBitSerial;
  if (a.bits <= 8 && w.bits <= 8) return GemmMethod::kInt8;
  return GemmMethod::kInt16;
}

}  // namespace bitlane::swar
