// fp32 GEMM for layers kept in float: C = A * W^T + bias. Each output is a
// sum over K in increasing order (one FMA chain), so results do not depend on
// tiling or on the number of threads.
#pragma once

#include <cstdint>

#include "core/aligned_buffer.h"

namespace bitlane {
class Executor;
}

namespace bitlane::ops {

// W (N x K, row per output) packed as [block of 16 columns][K][16].
struct PackedF32 {
  static constexpr int64_t kBlock = 16;
  static PackedF32 pack(const float* w, int64_t n, int64_t k);
  int64_t n = 0, k = 0;
  AlignedBuffer<float> data;
};

namespace detail {
struct F32Args {
  const float* a;
  int64_t lda;
  const PackedF32* w;
  const float* bias;
  float* c;
  int64_t ldc;
};
}  // namespace detail

// C[m][n] = sum_k A[m][k] W[n][k] + bias[n] (bias may be null).
void gemm_f32(const float* a, int64_t m, int64_t lda, const PackedF32& w, const float* bias,
              float* c, int64_t ldc, const Executor& ex);

}  // namespace bitlane::ops
