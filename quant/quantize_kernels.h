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

}  // namespace bitlane::quant::detail
