#include "swar/lane_ops.h"

#include "core/error.h"

namespace bitlane::swar {

WidePair widen(const Lanes& L, uint64_t a, int out_bits) {
  if (out_bits < L.bits || out_bits > 2 * L.field || out_bits > kMaxLaneBits)
    fail("swar::widen", "cannot widen " + L.format.to_string() + " lanes to " +
                            std::to_string(out_bits) + " bits");
  const LaneFormat wide{out_bits, L.format.is_signed, 2 * L.field - out_bits};
  const Lanes W(wide);
  if ((L.count + 1) / 2 > W.count)
    fail("swar::widen", L.format.to_string() + " has " + std::to_string(L.count) +
                            " lanes; the last one has no place in " + wide.to_string() +
                            " lanes of twice the field");
  // Lane i of `a` sits at i*field; lane 2j stays where it is (field 2j of
  // width 2*field starts at the same bit), lane 2j+1 moves down by one field.
  uint64_t even = a & L.even;
  uint64_t odd = (a >> L.field) & L.even;
  if (L.format.is_signed) {
    // (x ^ 2^(b-1)) - 2^(b-1) sign-extends a b-bit value inside the wider lane.
    const uint64_t sign = W.lsb << (L.bits - 1);
    even = sub(W, even ^ sign, sign);
    odd = sub(W, odd ^ sign, sign);
  }
  return {even, odd, wide};
}

}  // namespace bitlane::swar
