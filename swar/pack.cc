#include "swar/pack.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace bitlane::swar {

size_t packed_words(size_t n, const LaneFormat& f) {
  validate(f);
  const size_t lanes = static_cast<size_t>(f.lanes());
  return (n + lanes - 1) / lanes;
}

template <typename T>
void pack(std::span<const T> values, const LaneFormat& f, std::span<uint64_t> out,
          OutOfRange policy) {
  const Lanes L(f);
  const size_t words = packed_words(values.size(), f);
  if (out.size() < words)
    fail("swar::pack", "output holds " + std::to_string(out.size()) + " words, " +
                           std::to_string(words) + " needed");
  const int64_t lo = f.min_value(), hi = f.max_value();
  std::fill(out.begin(), out.begin() + words, uint64_t{0});
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t v = static_cast<int64_t>(values[i]);
    if (v < lo || v > hi) {
      if (policy == OutOfRange::kError)
        fail("swar::pack", "value " + std::to_string(v) + " at index " + std::to_string(i) +
                               " is outside " + f.to_string() + " [" + std::to_string(lo) +
                               ", " + std::to_string(hi) + "]");
      v = std::clamp(v, lo, hi);
    }
    const size_t w = i / L.count;
    const int lane = static_cast<int>(i % L.count);
    out[w] |= (static_cast<uint64_t>(v) & L.lane_max) << (lane * L.field);
  }
}

template <typename T>
void unpack(std::span<const uint64_t> words, const LaneFormat& f, std::span<T> out) {
  const Lanes L(f);
  if (f.min_value() < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      f.max_value() > static_cast<int64_t>(std::numeric_limits<T>::max()))
    fail("swar::unpack", "element type cannot hold every " + f.to_string() + " value");
  if (words.size() < packed_words(out.size(), f))
    fail("swar::unpack", "input holds " + std::to_string(words.size()) + " words, " +
                             std::to_string(packed_words(out.size(), f)) + " needed");
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<T>(L.value(words[i / L.count], static_cast<int>(i % L.count)));
}

#define BITLANE_PACK_INSTANTIATE(T)                                                     \
  template void pack<T>(std::span<const T>, const LaneFormat&, std::span<uint64_t>,    \
                        OutOfRange);                                                    \
  template void unpack<T>(std::span<const uint64_t>, const LaneFormat&, std::span<T>);
BITLANE_PACK_INSTANTIATE(int8_t)
BITLANE_PACK_INSTANTIATE(uint8_t)
BITLANE_PACK_INSTANTIATE(int16_t)
BITLANE_PACK_INSTANTIATE(uint16_t)
BITLANE_PACK_INSTANTIATE(int32_t)
#undef BITLANE_PACK_INSTANTIATE

}  // namespace bitlane::swar
