// Packing integer arrays into lanes of 64-bit words and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "swar/lane_format.h"

namespace bitlane::swar {

enum class OutOfRange {
  kError,     // throw bitlane::Error naming the first offending index and value
  kSaturate,  // clamp to the format's range
};

// Words needed for n lanes of format f.
size_t packed_words(size_t n, const LaneFormat& f);

// Packs values into out (at least packed_words(values.size(), f) words);
// unused lanes of the last word and all spacer bits are zero.
template <typename T>
void pack(std::span<const T> values, const LaneFormat& f, std::span<uint64_t> out,
          OutOfRange policy = OutOfRange::kError);

// Unpacks out.size() lanes. Throws if T cannot hold every value of format f.
template <typename T>
void unpack(std::span<const uint64_t> words, const LaneFormat& f, std::span<T> out);

}  // namespace bitlane::swar
