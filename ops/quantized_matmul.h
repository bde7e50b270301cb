// The integer core of dense, conv2d and lstm layers: y = x W^T + b with x and
// W quantized (quant/uniform.h), the dot products on swar::gemm, and the
// exact integer correction for zero points / binary grids before one float
// multiply per output. With RunContext::reference the same arithmetic runs
// on swar::gemm_reference, which must agree bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op.h"
#include "quant/scheme.h"
#include "quant/uniform.h"
#include "swar/gemm.h"

namespace bitlane::ops {

class QuantizedMatmul {
 public:
  // W is [out, in] fp32, bias [out] or null; act describes how inputs will
  // be quantized. The plan's scheme (uniform, term, sdp, drq) decides the
  // weight integers and the run-time transform of the activations; term
  // groups stay within segments of `segment` weights (conv: the channels of
  // one kernel position; default: the whole row).
  void prepare(const float* w, int64_t out, int64_t in, const float* bias,
               const quant::LayerPlan& plan, const quant::Affine& act, int64_t segment = 0);
  bool ready() const { return out_ > 0; }
  const quant::Affine& activation() const { return act_; }
  // The integer format of activations after the transform, as packed.
  const swar::IntFormat& storage() const { return storage_; }
  // The scheme's run-time transform of quantized activations, applied before
  // the GEMM (conv applies it to the image, before im2col; quantize_rows
  // applies it itself). Returns the regions kept at full precision (DRQ) and
  // adds the regions seen to *regions.
  template <typename T>
  int64_t transform(T* data, const quant::ActivationLayout& layout, int64_t* regions) const {
    return transform_ ? transform_->apply(data, layout, regions) : 0;
  }
  int64_t out() const { return out_; }
  int64_t in() const { return in_; }
  int64_t weight_bytes() const;  // integer weights at their bit width

  // Elements per quantized row: `in`, rounded up to whole K quads for
  // unsigned bytes so the GEMM can read the rows in place (padding zero).
  int64_t row_stride() const { return row_stride_; }
  // Quantizes m rows of `in` floats (row stride ldx) into rows of
  // row_stride() integers.
  void quantize_rows(const float* x, int64_t m, int64_t ldx, std::vector<uint8_t>& buf,
                     swar::MatrixView& view, const Executor& ex, LayerStats* stats = nullptr) const;
  // y[r][c] = sum_k x[r][k] W[c][k] + bias[c] from rows quantized with this
  // layer's activation format (row stride row_stride(), padding zero).
  void run_quantized(const swar::MatrixView& q, float* y, int64_t ldy, const RunContext& ctx) const;
  // The same from float rows.
  void run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, const RunContext& ctx) const;

 private:
  int64_t out_ = 0, in_ = 0;
  quant::Affine act_;
  swar::IntFormat storage_;
  std::shared_ptr<const quant::ActivationTransform> transform_;  // null: none
  quant::TermEncoding cost_encoding_ = quant::TermEncoding::kBinary;
  std::vector<int64_t> weight_terms_;  // per input column: terms of that column's weights
  std::vector<uint8_t> act_terms_;     // terms of each activation magnitude
  quant::QuantizedWeights qw_;
  swar::PackedWeights packed_;
  int64_t row_stride_ = 0;
  // y = S * scale + offset - Ra * row_scale per output column c, with S the
  // integer dot product and Ra the row's sum of quantized inputs:
  // scale = sa sw ma mw, offset = sa sw (K oa ow - mw oa Cw) + bias,
  // row_scale = sa sw ma ow (non-zero only for weight grids with an offset).
  std::vector<float> scale_, offset_, row_scale_;
  bool wide_ = false;          // int64 accumulators needed
  bool need_row_sums_ = false;
};

}  // namespace bitlane::ops
