#include "quant/drq.h"

#include <algorithm>
#include <type_traits>

#include "quant/drq_kernels.h"

namespace bitlane::quant {
namespace {

template <typename T>
int64_t magnitude_sum(const T* p, int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i] < 0 ? -static_cast<int32_t>(p[i]) : static_cast<int32_t>(p[i]);
  return sum;
}

// Magnitudes to drq_low, signs kept.
template <typename T>
void round_to_low(T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = p[i], m = v < 0 ? -v : v;
    const int32_t low = drq_low(m);
    p[i] = static_cast<T>(v < 0 ? -low : low);
  }
}

}  // namespace

template <typename T>
int64_t drq_apply(T* data, int64_t items, int64_t height, int64_t width, int64_t ch, int64_t item_stride,
                  const DrqRegions& rg, int64_t* regions) {
  const int64_t r = rg.region, positions = height * width;
  const bool spatial = positions > 1;
  int64_t sensitive = 0;
  for (int64_t it = 0; it < items; ++it) {
    T* item = data + it * item_stride;
    if constexpr (std::is_same_v<T, uint8_t>) {
      if (!spatial && r == 4 && ch % 4 == 0) {  // the vectorized common case of dense layers
        sensitive += detail::drq_regions4(item, static_cast<size_t>(ch / 4), rg.threshold_per_value * 4);
        if (regions) *regions += ch / 4;
        continue;
      }
    }
    // A region is a few contiguous runs (one per pixel row), summed and
    // rounded run by run; its mean magnitude decides.
    const int64_t rh = spatial ? r : 1, rw = spatial ? r : 1, rc = spatial ? ch : r;
    for (int64_t y0 = 0; y0 < height; y0 += rh)
      for (int64_t x0 = 0; x0 < width; x0 += rw)
        for (int64_t c0 = 0; c0 < ch; c0 += rc) {
          const int64_t y1 = std::min(height, y0 + rh), x1 = std::min(width, x0 + rw);
          const int64_t run = (x1 - x0) * std::min(rc, ch - c0);  // contiguous values per pixel row
          int64_t sum = 0;
          for (int64_t y = y0; y < y1; ++y) sum += magnitude_sum(item + (y * width + x0) * ch + c0, run);
          if (regions) ++*regions;
          if (sum >= rg.threshold_per_value * run * (y1 - y0)) {
            ++sensitive;
            continue;
          }
          for (int64_t y = y0; y < y1; ++y) round_to_low(item + (y * width + x0) * ch + c0, run);
        }
  }
  return sensitive;
}

template int64_t drq_apply<uint8_t>(uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t, const DrqRegions&,
                                    int64_t*);
template int64_t drq_apply<int8_t>(int8_t*, int64_t, int64_t, int64_t, int64_t, int64_t, const DrqRegions&,
                                   int64_t*);
template int64_t drq_apply<int16_t>(int16_t*, int64_t, int64_t, int64_t, int64_t, int64_t, const DrqRegions&,
                                    int64_t*);

}  // namespace bitlane::quant
