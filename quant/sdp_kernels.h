// SDP part selection for groups of four, vectorized (sdp_kernels.cc): the
// run-time path of the default G = 4. Each vector holds lane j of many
// groups (interleaved loads), so ranks within a group are plain lane-wise
// compares. Equal to sdp_truncate group by group (tested).
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitlane::quant::detail {

// `groups` consecutive groups of 4 values starting at `data`, in place.
void sdp_groups4(uint8_t* data, size_t groups, int keep);
void sdp_groups4(int8_t* data, size_t groups, int keep);
void sdp_groups4(int16_t* data, size_t groups, int keep);

}  // namespace bitlane::quant::detail
