// GEMM peers measured beside bitlane in the same run: oneDNN's int8 matmul
// (u8 x s8 -> s32) and OpenBLAS sgemm. Each is compiled in only when CMake
// found the library; otherwise make_*() returns nullptr.
#pragma once

#include <memory>
#include <string>

namespace bitlane::bench {

class GemmPeer {
 public:
  virtual ~GemmPeer() = default;
  virtual std::string name() const = 0;
  // Allocates and fills operands for C (M x N) = A (M x K) * B (K x N).
  virtual void setup(int m, int k, int n, int threads) = 0;
  virtual void run() = 0;
};

// isa: "vnni" caps oneDNN at AVX512_CORE_VNNI (the reference the issue's
// targets use); "default" lets it pick (AMX on Sapphire Rapids). The cap is
// process-wide and must be set before the first primitive.
std::unique_ptr<GemmPeer> make_onednn_int8(const std::string& isa);
std::unique_ptr<GemmPeer> make_openblas_sgemm();

}  // namespace bitlane::bench
