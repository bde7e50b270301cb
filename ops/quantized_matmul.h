// The integer core of dense, conv2d and lstm layers: y = x W^T + b with x and
// W quantized (quant/uniform.h), the dot products on swar::gemm, and the
// exact integer correction for zero points / binary grids before one float
// multiply per output. With RunContext::reference the same arithmetic runs
// on swar::gemm_reference, which must agree bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"
#include "quant/uniform.h"
#include "swar/gemm.h"

namespace bitlane::ops {

class QuantizedMatmul {
 public:
  // W is [out, in] fp32; act describes how inputs will be quantized.
  void prepare(const float* w, int64_t out, int64_t in, const quant::LayerPlan& plan,
               const quant::Affine& act);
  bool ready() const { return out_ > 0; }
  const quant::Affine& activation() const { return act_; }
  int64_t out() const { return out_; }
  int64_t in() const { return in_; }
  int64_t weight_bytes() const;  // integer weights at their bit width

  // Quantizes m rows of `in` floats (row stride ldx) into integers.
  void quantize_rows(const float* x, int64_t m, int64_t ldx, std::vector<uint8_t>& buf,
                     swar::MatrixView& view, const Executor& ex) const;
  // y[r][c] = sum_k x[r][k] W[c][k] + bias[c] from already quantized rows.
  void run_quantized(const swar::MatrixView& q, float* y, int64_t ldy, const float* bias,
                     const RunContext& ctx) const;
  // The same from float rows.
  void run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, const float* bias,
           const RunContext& ctx) const;

 private:
  int64_t out_ = 0, in_ = 0;
  quant::Affine act_;
  quant::QuantizedWeights qw_;
  swar::PackedWeights packed_;
  std::vector<float> scale_;   // act scale * weight scale, per output
  bool wide_ = false;          // int64 accumulators needed
  bool need_row_sums_ = false; // some weight grid has an offset
};

}  // namespace bitlane::ops
