// fp32 GEMM for layers kept in float: C = A * W^T + bias. Each output is a
// sum over K in increasing order (one FMA chain), so results do not depend on
// tiling or on the number of threads.
#pragma once

#include <cstdint>

#include "core/aligned_buffer.h"
#include "ops/kernels/activation.h"

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

// What each output gets after its sum: act(sum + bias + residual) in that
// order (a residual add, then an activation, fused into the GEMM's store
// so no pass over the output follows it). residual[r * ld_residual + n].
struct F32Epilogue {
  const float* residual = nullptr;
  int64_t ld_residual = 0;
  Activation act = Activation::kNone;
};

namespace detail {
// Row r of A is `segments` runs of `seg` floats (segments * seg = K): at
// a + r * lda + s * seg, or, when row_offset is set, at
// a + row_offset[r] + run_offset[s].
struct F32Args {
  const float* a;
  int64_t lda;
  const PackedF32* w;
  const float* bias;
  float* c;
  int64_t ldc;
  const int64_t* row_offset = nullptr;
  const int64_t* run_offset = nullptr;
  int64_t segments = 1, seg = 0;
  F32Epilogue epilogue;
};
}  // namespace detail

// C[m][n] = sum_k A[m][k] W[n][k] + bias[n] (bias may be null), then the
// epilogue's residual and activation.
void gemm_f32(const float* a, int64_t m, int64_t lda, const PackedF32& w, const float* bias,
              float* c, int64_t ldc, const Executor& ex, const F32Epilogue& epilogue = {});

// The same with each row of A gathered from `segments` runs of w.k /
// segments floats: row r's run s is at x + row_offset[r] + run_offset[s].
// A convolution over its spatially padded input passes each output pixel's
// offset and each kernel position's instead of copying the patches into a
// matrix; the sums are the same chains as gemm_f32 on that matrix, bit for
// bit.
void gemm_f32_gathered(const float* x, const int64_t* row_offset, const int64_t* run_offset, int64_t m,
                       int64_t segments, const PackedF32& w, const float* bias, float* c, int64_t ldc,
                       const Executor& ex, const F32Epilogue& epilogue = {});

}  // namespace bitlane::ops
