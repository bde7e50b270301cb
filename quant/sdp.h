// Structured dynamic precision (SDP, Huang et al., ACM TODAES 28(1), 2023).
//
// SDP, as bitlane reads the paper (TECHNIQUES.md marks it open): an 8-bit
// magnitude q = 16 H + L has a high part H and a low part L. In each group of
// G values, only K of the parts are kept, by contribution: every non-zero H
// (worth 16 H) outranks every L; equal contributions go to the lower index.
// Zero parts are not counted. Cost: K / G part products per MAC.
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

}  // namespace bitlane::quant
