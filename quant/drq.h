// DRQ-style region precision, the baseline SDP is compared with (Song et
// al., "DRQ: Dynamic Region-based Quantization", ISCA 2020, as TECHNIQUES.md
// reads it): the 8-bit activations are split into regions; a region whose
// mean magnitude reaches the threshold is "sensitive" and keeps 8 bits, the
// others keep 4 (q rounded to a multiple of 16).
#pragma once

#include <cstdint>

namespace bitlane::quant {

// q (non-negative, < 256) reduced to the 4-bit grid of DRQ's insensitive
// regions: nearest multiple of 16, at most 240. The one definition; the
// vector kernel (drq_kernels.cc) is tested against it.
inline int32_t drq_low(int32_t q) {
  const int32_t r = (q + 8) & ~15;  // branch-free, so loops over it vectorize
  return r > 240 ? 240 : r;
}

// Region geometry: r x r pixel blocks of an image (all channels), or runs of
// r channels when the layout has one position (dense layers).
struct DrqRegions {
  int64_t region = 4;
  // Sum of magnitudes a region of one value must reach: ceil(threshold x qmax).
  int64_t threshold_per_value = 0;
};

// Applies DRQ to `items` blocks of height x width positions of `channels`
// values (item_stride apart), in place: every region below the threshold
// goes to drq_low, signs kept. Returns the regions kept at 8 bits; adds the
// regions seen to *regions when not null.
template <typename T>
int64_t drq_apply(T* data, int64_t items, int64_t height, int64_t width, int64_t channels, int64_t item_stride,
                  const DrqRegions& r, int64_t* regions);

}  // namespace bitlane::quant
