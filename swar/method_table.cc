// Which GEMM method runs a pair of operand widths on a SIMD target. The table
// is the outcome of bench/bitlane_kernels --methods all (bench/README.md has
// the numbers); change it only with a measurement.
//
// Measured on Sapphire Rapids (AVX3_DL), 64x784x512 and 1x784x512, GOPS:
//   a x w    bitserial  int8(VNNI)  int16  widemul
//   1 x 1       1291       570       170      22
//   1 x 2        753       563       169      19
//   2 x 2        407       582       170      14   (GEMV: 315 vs 288)
//   4 x 4        114       636       171      10
// Without VNNI (AVX3, AVX2, SSE4) the emulated byte dot product loses to
// int16 PMADDWD by 15-40%; bit-serial still wins while a * w <= 2. On the
// scalar fallback, SAMD's packed products (widemul) win from a * w >= 4.
#include <string>

#include "swar/gemm.h"
#include "swar/targets.h"

namespace bitlane::swar {

GemmMethod choose_method(IntFormat a, IntFormat w) {
  const std::string target = current_target();
  const int plane_pairs = a.bits * w.bits;
  const bool fits_bytes = a.bits <= 8 && w.bits <= 8;
  if (plane_pairs <= 2) return GemmMethod::kBitSerial;
  if (target == "AVX3_DL" && fits_bytes) return GemmMethod::kInt8;
  if (target == "SCALAR" || target == "EMU128") return GemmMethod::kWideMul;
  return GemmMethod::kInt16;
}

}  // namespace bitlane::swar
