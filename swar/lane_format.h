// Lane formats: how narrow integers share a 64-bit word.
//
// A lane holds `bits` value bits (1..16; two's complement when signed) and is
// followed by `spacer` zero bits, so lane i of a word occupies bits
// [i*field, i*field + bits) with field = bits + spacer, and a word holds
// floor(64 / field) lanes. Bits above the last lane and all spacer bits of a
// canonical word are zero; every lane operation keeps words canonical.
#pragma once

#include <cstdint>
#include <string>

namespace bitlane::swar {

inline constexpr int kMaxLaneBits = 16;

struct LaneFormat {
  int bits = 8;
  bool is_signed = false;
  int spacer = 0;

  constexpr int field() const { return bits + spacer; }
  constexpr int lanes() const { return 64 / field(); }
  constexpr int64_t min_value() const { return is_signed ? -(int64_t{1} << (bits - 1)) : 0; }
  constexpr int64_t max_value() const {
    return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
  }
  bool operator==(const LaneFormat&) const = default;

  // "s4", "u8", "s3+2" (2 spacer bits).
  std::string to_string() const;
};

// Throws bitlane::Error unless 1 <= bits <= 16, 0 <= spacer and field <= 64.
void validate(const LaneFormat& format);

// Bit pattern with the low `width` bits of every `period`-bit field set, for
// the first `count` fields.
constexpr uint64_t repeat_low_bits(int width, int period, int count) {
  uint64_t unit = width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
  uint64_t m = 0;
  for (int i = 0; i < count && i * period < 64; ++i) m |= unit << (i * period);
  return m;
}

// A format with its masks computed once; every lane operation takes one.
struct Lanes {
  explicit Lanes(const LaneFormat& f);  // validates

  LaneFormat format;
  int bits, field, count;
  uint64_t lane;       // value bits of every lane
  uint64_t msb;        // top value bit of every lane ("H" in the SWAR literature)
  uint64_t lsb;        // bit 0 of every lane
  uint64_t lane_max;   // 2^bits - 1
  uint64_t even;       // value bits of lanes 0, 2, 4, ...
  uint64_t odd;        // value bits of lanes 1, 3, 5, ...

  // Low `n` (0..bits) bits of every lane.
  uint64_t low_bits(int n) const { return repeat_low_bits(n, field, count); }

  // Scalar access to lane i: raw bits, value (sign-extended when signed), and
  // a copy of `word` with lane i set to v mod 2^bits.
  uint64_t raw(uint64_t word, int i) const { return (word >> (i * field)) & lane_max; }
  int64_t value(uint64_t word, int i) const {
    int64_t r = static_cast<int64_t>(raw(word, i));
    if (format.is_signed && (r >> (bits - 1))) r -= int64_t{1} << bits;
    return r;
  }
  uint64_t with(uint64_t word, int i, int64_t v) const {
    uint64_t shift = static_cast<uint64_t>(i * field);
    return (word & ~(lane_max << shift)) | ((static_cast<uint64_t>(v) & lane_max) << shift);
  }
};

}  // namespace bitlane::swar
