// Per-target float -> integer quantization loops (quantize_kernels.cc).
#pragma once

#include <cstdint>

namespace bitlane::quant::detail {

struct QuantizeParams {
  float inv_scale, offset, half, lo, hi;
};

void quantize_u8(const float* x, int64_t n, const QuantizeParams& p, uint8_t* out);
void quantize_i8(const float* x, int64_t n, const QuantizeParams& p, int8_t* out);
void quantize_i16(const float* x, int64_t n, const QuantizeParams& p, int16_t* out);

// For i in [0, n) (n a multiple of 16), lane l = i % 16:
//   lo[l] = x[i] < lo[l] ? x[i] : lo[l],  hi[l] = hi[l] < x[i] ? x[i] : hi[l]
// -- exactly those comparisons, so a NaN never replaces a value and the
// same 16 lanes on every target (RangeStats::add reduces them in order).
void min_max_16_lanes(const float* x, int64_t n, float* lo, float* hi);

}  // namespace bitlane::quant::detail
