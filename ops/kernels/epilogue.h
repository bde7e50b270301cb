// Per-target epilogues of quantized layers, run on each finished GEMM tile
// (swar::TileEpilogue) while its int32 sums are in cache:
//
//   y[r][c] = act(acc[r][c] * scale[c] + offset[c] - ra[r] * row_scale[c] + res[r][c])
//
// (the exact integer dot product scaled back to real values, bias and
// zero-point corrections folded into offset and row_scale; ops/quantized_
// matmul.h; res a residual tensor added before the activation, or none), then
// either stored as float -- row-major, or transposed into an
// NCHW image -- or quantized straight onto the next layer's grid,
//
//   q = clamp(round_half_even((y * inv + off) * half), lo, hi)
//
// with the same float operations in the same order as the unfused path
// (QuantizedMatmul's scalar reference and quant::quantize), so fusing changes
// no bit of any result.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bitlane::ops::detail {

enum class EpilogueAct : uint8_t { kNone, kRelu, kRelu6 };

// The per-column arrays are padded with at least 64 zeros past the last
// column, and each row of sums with 16 readable int32 (the kernels load
// whole vectors for a last, partial one and mask what they store).
struct EpilogueParams {
  const float* scale = nullptr;      // per output column
  const float* offset = nullptr;     // per output column (bias and constant terms)
  const float* row_scale = nullptr;  // per output column, or null (no zero-point correction)
  EpilogueAct act = EpilogueAct::kNone;
};

// The next layer's quantizer (quant::quantize's parameters).
struct RequantParams {
  float inv_scale, offset, half, lo, hi;
};

// A tile of sums: rows [0, rows) of acc (lda apart), columns [c0, c1) of the
// layer's outputs (acc column j is output c0 + j); ra[r] the row sums of the
// activations (null when row_scale is null).
struct EpilogueTile {
  const int32_t* acc;
  size_t lda;
  size_t rows, c0, c1;
  const float* ra;
  const float* res = nullptr;  // residual: res[r * ldr + c] for c in [c0, c1), or null
  size_t ldr = 0;
};

// out[r * ldo + c] for c in [c0, c1).
void epilogue_to_f32(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t ldo);
// out[c * plane + r]: tile rows are pixels of one image, columns its channels.
void epilogue_to_f32_planes(const EpilogueTile& t, const EpilogueParams& p, float* out, size_t plane);
// out[r * ldo + c] on the next layer's grid, as uint8, int8 or int16.
void epilogue_to_u8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, uint8_t* out,
                    size_t ldo);
void epilogue_to_i8(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, int8_t* out,
                    size_t ldo);
void epilogue_to_i16(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, int16_t* out,
                     size_t ldo);
// Both: out[r * ldo + c] as float and iout[r * ildo + c] on the next layer's
// grid, from the same values (an integer twin, ops/op.h).
enum class IntType : uint8_t { kU8, kI8, kI16 };
void epilogue_to_f32_and_int(const EpilogueTile& t, const EpilogueParams& p, const RequantParams& q, float* out,
                             size_t ldo, IntType type, void* iout, size_t ildo);

// Requantizing onto a grid of at most 4 integers (1- and 2-bit activations)
// by thresholds on the sums: where y depends on the sum alone (no zero-point
// correction, no residual) it is non-decreasing in it -- every float step,
// the ReLU, the rounding and the clamp are -- so the epilogue's output is
// lo + #{j : acc >= t_j[c]}, up to 3 compares where the floats took ten
// operations a vector. The thresholds come from the scalar definition, so
// the outputs are the float path's bit for bit.
struct EpilogueSteps {
  std::vector<int32_t> t;  // threshold j of column c at t[j * ld + c]; never met past the columns
  size_t levels = 0, ld = 0;
  int32_t lo = 0;
  bool empty() const { return levels == 0; }
};
// Thresholds for columns [0, n) of sums within [-bound, bound]; empty where
// they do not apply (a zero-point correction, a grid of more than 4
// integers, a negative or non-finite scale, bound >= 2^31 - 1).
EpilogueSteps epilogue_steps(const EpilogueParams& p, const RequantParams& q, size_t n, int64_t bound);
// out[r * ldo + c] for the tile's rows and columns (t.ra and t.res unused).
void epilogue_steps_to_u8(const EpilogueTile& t, const EpilogueSteps& s, uint8_t* out, size_t ldo);
void epilogue_steps_to_i8(const EpilogueTile& t, const EpilogueSteps& s, int8_t* out, size_t ldo);

// The scalar definition of one output, shared by the kernels' tails and the tests.
inline float epilogue_value(int32_t acc, size_t c, float ra, const EpilogueParams& p, const float* res = nullptr) {
  float y = static_cast<float>(acc) * p.scale[c] + p.offset[c];
  if (p.row_scale) y = y - ra * p.row_scale[c];
  if (res) y = y + res[c];
  switch (p.act) {
    case EpilogueAct::kRelu: return y > 0.f ? y : 0.f;
    case EpilogueAct::kRelu6: return y < 0.f ? 0.f : y > 6.f ? 6.f : y;
    default: return y;
  }
}
// The next layer's integer for y (quant::quantize's operations), as a float.
inline float requantized_value(float y, const RequantParams& q) {
  const float g = (y * q.inv_scale + q.offset) * q.half;
  return std::clamp(std::nearbyint(g), q.lo, q.hi);
}

}  // namespace bitlane::ops::detail
