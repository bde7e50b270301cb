#include "swar/lane_format.h"

#include "core/error.h"

namespace bitlane::swar {

std::string LaneFormat::to_string() const {
  std::string s = (is_signed ? "s" : "u") + std::to_string(bits);
  if (spacer) s += "+" + std::to_string(spacer);
  return s;
}

void validate(const LaneFormat& f) {
  if (f.bits < 1 || f.bits > kMaxLaneBits)
    fail("swar::LaneFormat", "bits must be 1.." + std::to_string(kMaxLaneBits) + ", got " +
                                 std::to_string(f.bits));
  if (f.spacer < 0 || f.field() > 64)
    fail("swar::LaneFormat", "spacer must be 0.." + std::to_string(64 - f.bits) + ", got " +
                                 std::to_string(f.spacer));
}

Lanes::Lanes(const LaneFormat& f) : format(f) {
  validate(f);
  bits = f.bits;
  field = f.field();
  count = f.lanes();
  lane_max = (uint64_t{1} << bits) - 1;
  lane = repeat_low_bits(bits, field, count);
  lsb = repeat_low_bits(1, field, count);
  msb = lsb << (bits - 1);
  even = repeat_low_bits(bits, 2 * field, (count + 1) / 2);
  odd = lane & ~even;
}

}  // namespace bitlane::swar
