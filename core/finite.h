// Finiteness of float arrays: model inputs and weights are checked before
// any quantizer sees them (a NaN or infinity would be clamped to a grid end,
// a silent wrong answer). Vectorized per SIMD target: inputs are checked on
// every call.
#pragma once

#include <cstdint>
#include <string>

namespace bitlane {

// Whether no element of x[0, n) is NaN or infinite.
bool all_finite(const float* x, int64_t n);

// Throws "<where>: NaN value at element i" (or "infinite value") for the
// first element of x[0, n) that is not finite.
void require_finite(const float* x, int64_t n, const std::string& where);

}  // namespace bitlane
