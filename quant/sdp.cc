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

namespace {

// Zeroes all but the `r` largest of a[0..n) (ties: lower index wins); each
// kept entry is flagged in keep[].
void keep_top(const int* a, int n, int r, bool* keep) {
  for (int j = 0; j < n; ++j) {
    int rank = 0;
    for (int i = 0; i < n; ++i) rank += a[i] > a[j] || (a[i] == a[j] && i < j);
    keep[j] = a[j] != 0 && rank < r;
  }
}

}  // namespace

template <typename T>
int sdp_truncate(T* values, int n, int keep) {
  constexpr int kMax = 64;
  if (n > kMax) {  // wide groups: the reference
    std::vector<int32_t> in(values, values + n), out(static_cast<size_t>(n));
    const int kept = sdp_group(in, keep, out);
    for (int i = 0; i < n; ++i) values[i] = static_cast<T>(out[static_cast<size_t>(i)]);
    return kept;
  }
  int hi[kMax], lo[kMax], nh = 0, nl = 0;
  for (int i = 0; i < n; ++i) {
    const int m = values[i] < 0 ? -static_cast<int>(values[i]) : static_cast<int>(values[i]);
    if (m > 255) fail("SDP", "magnitudes must be below 256");
    hi[i] = m >> 4;
    lo[i] = m & 15;
    nh += hi[i] != 0;
    nl += lo[i] != 0;
  }
  keep = std::max(keep, 0);
  if (nh + nl <= keep) return nh + nl;  // exact
  bool kh[kMax], kl[kMax];
  if (nh >= keep) {
    keep_top(hi, n, keep, kh);
    for (int i = 0; i < n; ++i) kl[i] = false;
  } else {
    for (int i = 0; i < n; ++i) kh[i] = hi[i] != 0;
    keep_top(lo, n, keep - nh, kl);
  }
  for (int i = 0; i < n; ++i) {
    const int m = (kh[i] ? hi[i] * 16 : 0) + (kl[i] ? lo[i] : 0);
    values[i] = static_cast<T>(values[i] < 0 ? -m : m);
  }
  return keep;
}

template int sdp_truncate<int8_t>(int8_t*, int, int);
template int sdp_truncate<uint8_t>(uint8_t*, int, int);
template int sdp_truncate<int16_t>(int16_t*, int, int);

}  // namespace bitlane::quant
