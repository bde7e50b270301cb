// The core of dense, conv2d and lstm layers under exponential quantization
// (DNA-TEQ, quant/exponential.h): weights and inputs encoded with one base
// per layer, and two execution paths that must agree -- decoded values on the
// float GEMM (fast on CPUs), or the exponent-domain dot product with signed
// histograms (exp_dot; the plan's exp_histogram).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/kernels/gemm_f32.h"
#include "ops/op.h"
#include "quant/exponential.h"

namespace bitlane::ops {

class ExpMatmul {
 public:
  // Searches base and width on the weights and the activation samples.
  void prepare(const float* w, int64_t out, int64_t in, const float* bias, const quant::LayerPlan& plan,
               const std::vector<float>& activation_samples);
  bool ready() const { return out_ > 0; }
  int bits() const { return pw_.bits; }
  // y[r][c] = sum_k x[r][k] W[c][k] + bias[c] with both operands encoded.
  void run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, const RunContext& ctx) const;

 private:
  int64_t out_ = 0, in_ = 0;
  bool histogram_ = false;
  quant::ExpParams pw_, px_;
  quant::ExpCodec codec_x_;  // the inputs' encoder, tabulated
  std::vector<int16_t> codes_;  // weights [out, in]
  std::vector<int64_t> nonzero_weights_;  // per input k: weights with a non-zero code (pair counts)
  std::vector<float> bias_;
  PackedF32 decoded_;
};

}  // namespace bitlane::ops
