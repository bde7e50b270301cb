// Structured dynamic precision (SDP, Huang et al., ACM TODAES 28(1), 2023) and
// the DRQ-style region baseline it is compared with.
//
// SDP, as bitlane reads the paper (TECHNIQUES.md marks it open): an 8-bit
// magnitude q = 16 H + L has a high part H and a low part L. In each group of
// G values, only K of the parts are kept, by contribution: every non-zero H
// (worth 16 H) outranks every L; equal contributions go to the lower index.
// Zero parts are not counted. Cost: K / G part products per MAC.
//
// DRQ-style baseline: the 8-bit activations are split into regions; a region
// whose mean magnitude reaches the threshold is "sensitive" and keeps 8 bits,
// the others keep 4 (q rounded to a multiple of 16).
#pragma once

#include <cstdint>
#include <span>

namespace bitlane::quant {

// Truncates one group of sign-magnitude values (|v| < 256); returns the
// number of parts kept. The scalar reference: parts listed and sorted.
int sdp_group(std::span<const int32_t> values, int keep, std::span<int32_t> out);

// The same truncation in place, as layers run it: no lists, no sorting.
// Since every non-zero H outranks every L, the kept parts are all H and the
// best remaining L, or only the best H; "best" is a rank count (ties to the
// lower index). Returns the parts kept; equal to sdp_group (tested).
template <typename T>
int sdp_truncate(T* values, int n, int keep);

// q (non-negative, < 256) reduced to the 4-bit grid of DRQ's insensitive
// regions: nearest multiple of 16, at most 240.
inline int32_t drq_low(int32_t q) {
  const int32_t r = (q + 8) / 16 * 16;
  return r > 240 ? 240 : r;
}

}  // namespace bitlane::quant
