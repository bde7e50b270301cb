#include "quant/sdp.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace bitlane::quant {

int sdp_group(std::span<const int32_t> values, int keep, std::span<int32_t> out) {
  struct Part {
    int contribution, index;
    bool high;
  };
  std::vector<Part> parts;
  for (size_t i = 0; i < values.size(); ++i) {
    const int m = std::abs(values[i]);
    if (m > 255) fail("SDP", "magnitudes must be below 256");
    if (m >> 4) parts.push_back({(m >> 4) * 16, static_cast<int>(i), true});
    if (m & 15) parts.push_back({m & 15, static_cast<int>(i), false});
  }
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
    return a.contribution != b.contribution ? a.contribution > b.contribution : a.index < b.index;
  });
  const size_t n = std::min(parts.size(), static_cast<size_t>(std::max(keep, 0)));
  std::fill(out.begin(), out.begin() + static_cast<long>(values.size()), 0);
  for (size_t j = 0; j < n; ++j) {
    const size_t i = static_cast<size_t>(parts[j].index);
    out[i] += (values[i] < 0 ? -1 : 1) * parts[j].contribution;
  }
  return static_cast<int>(n);
}

}  // namespace bitlane::quant
