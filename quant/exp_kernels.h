// Per-target exponential encoding (exp_kernels.cc): codes as counts of
// reached cut-offs, see ExpCodec in exponential.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitlane::quant::detail {

// For i < n: magnitude t = |x[i]|; code 0 if !(t >= zero_cut), else
// sign(x) * (1 + #{j : t >= cuts[j]}); values[i] = sign(x) * level[|code| - 1]
// (0 for code 0). codes may be null.
void exp_encode_decode(const float* x, size_t n, float zero_cut, const float* cuts, size_t ncuts,
                       const float* level, float* values, int16_t* codes);

}  // namespace bitlane::quant::detail
