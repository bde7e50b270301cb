// Uniform quantization. A quantized operand stores integers q in a swar/
// IntFormat and means  x = scale * (mul * q - offset),  with mul 1 (the usual
// affine q - zero_point) or 2 (binary operands: 1 bit meaning -1 / +1, or any
// "odd-level" grid). Keeping mul and offset integers lets a layer correct its
// integer dot product exactly:
//   sum_k a_k w_k = sa sw [ ma mw S - ma ow Ra - mw oa Cw + K oa ow ]
// with S = sum qa qw (the swar GEMM), Ra = sum_k qa (per row of activations),
// Cw = sum_k qw (per output channel).
#pragma once

#include <cstdint>
#include <vector>

#include "quant/plan.h"
#include "swar/int_format.h"

namespace bitlane::quant {

struct Affine {
  float scale = 1.f;
  int32_t mul = 1;     // 1 or 2
  int32_t offset = 0;  // zero point (mul = 1) or 2^bits - 1 (mul = 2)
  swar::IntFormat format{8, false};
  // Quantization clamps to [qmin, qmax]; by default the format's range
  // (sign-magnitude grids clamp symmetrically inside a wider format).
  int32_t qmin = 0, qmax = -1;
  int32_t lowest() const { return qmax >= qmin ? qmin : static_cast<int32_t>(format.min_value()); }
  int32_t highest() const { return qmax >= qmin ? qmax : static_cast<int32_t>(format.max_value()); }
};

// Activations: from a calibrated range [lo, hi]. lo >= 0 gives unsigned
// q in [0, 2^b - 1]; otherwise symmetric signed (when `symmetric`) or
// unsigned with a zero point. One bit signed means binary -s / +s.
Affine activation_affine(float lo, float hi, int bits, bool symmetric);

// Quantizes n values: q = clamp(round_half_even(x / scale_to_grid) ...) in the
// affine's format, written as int16 (any width) or uint8/int8 (<= 8 bits).
void quantize(const float* x, int64_t n, const Affine& a, int16_t* q);
void quantize(const float* x, int64_t n, const Affine& a, uint8_t* q);
void quantize(const float* x, int64_t n, const Affine& a, int8_t* q);
// The value one integer stands for.
inline float dequantize(int32_t q, const Affine& a) {
  return a.scale * static_cast<float>(a.mul * q - a.offset);
}

// Weights [rows = output channels, cols], per channel or per tensor.
struct QuantizedWeights {
  int64_t rows = 0, cols = 0;
  std::vector<int16_t> q;         // rows x cols
  std::vector<Affine> affine;     // one per row (identical rows for per-tensor)
  std::vector<int64_t> row_sum;   // sum of q per row (Cw)
  swar::IntFormat format;
};
QuantizedWeights quantize_weights(const float* w, int64_t rows, int64_t cols, const LayerPlan& plan);

}  // namespace bitlane::quant
