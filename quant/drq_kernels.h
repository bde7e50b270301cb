// DRQ regions of four unsigned bytes, vectorized (drq_kernels.cc): the
// run-time path of dense layers with the default region of 4 (drq.cc). Each 32-bit
// lane holds one region; equal to the scalar region loop (tested).
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitlane::quant::detail {

// For each of `regions` groups of 4 bytes: if their sum is below
// `min_sum`, every byte goes to the 4-bit grid (drq_low). Returns the number
// of regions kept at 8 bits.
int64_t drq_regions4(uint8_t* data, size_t regions, int64_t min_sum);

}  // namespace bitlane::quant::detail
