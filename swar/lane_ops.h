// Arithmetic on all lanes of a 64-bit word at once (SWAR), for any LaneFormat,
// including formats without spacer bits. Inputs must be canonical (spacer
// bits zero); outputs are canonical. Wrapping operations are modulo 2^bits per
// lane; nothing ever carries or borrows into a neighbouring lane.
//
// The tricks: operate on the low bits-1 bits of each lane, where carries stay
// inside the lane, and fix the top bit ("H") with XOR; turn a per-lane top-bit
// flag into a whole-lane mask by multiplying the flag by 2^bits - 1. Each
// function has a scalar reference in tests/swar (a loop over lanes).
#pragma once

#include <cstdint>

#include "swar/lane_format.h"

namespace bitlane::swar {

// Turns a word whose only set bits are lane top bits into whole-lane masks.
inline uint64_t spread_msb(const Lanes& L, uint64_t flags) {
  return ((flags & L.msb) >> (L.bits - 1)) * L.lane_max;
}

inline uint64_t add(const Lanes& L, uint64_t a, uint64_t b) {
  const uint64_t low = L.lane & ~L.msb;
  return ((a & low) + (b & low)) ^ ((a ^ b) & L.msb);
}

inline uint64_t sub(const Lanes& L, uint64_t a, uint64_t b) {
  // Presetting each lane's top bit absorbs the borrow of the low bits.
  const uint64_t low = L.lane & ~L.msb;
  return ((a | L.msb) - (b & low)) ^ ((a ^ ~b) & L.msb);
}

inline uint64_t neg(const Lanes& L, uint64_t a) { return sub(L, 0, a); }

// Lane-wise a < b as a whole-lane mask (signedness from the format).
inline uint64_t cmp_lt(const Lanes& L, uint64_t a, uint64_t b) {
  if (L.format.is_signed) {  // biasing by the sign bit turns signed order into unsigned
    a ^= L.msb;
    b ^= L.msb;
  }
  const uint64_t d = sub(L, a, b);
  const uint64_t borrow = (~a & b) | (~(a ^ b) & d);
  return spread_msb(L, borrow);
}
inline uint64_t cmp_gt(const Lanes& L, uint64_t a, uint64_t b) { return cmp_lt(L, b, a); }
inline uint64_t cmp_le(const Lanes& L, uint64_t a, uint64_t b) {
  return ~cmp_lt(L, b, a) & L.lane;
}
inline uint64_t cmp_ge(const Lanes& L, uint64_t a, uint64_t b) {
  return ~cmp_lt(L, a, b) & L.lane;
}
inline uint64_t cmp_eq(const Lanes& L, uint64_t a, uint64_t b) {
  const uint64_t low = L.lane & ~L.msb;
  const uint64_t x = a ^ b;
  const uint64_t nonzero = (((x & low) + low) | x) & L.msb;
  return ~spread_msb(L, nonzero) & L.lane;
}
inline uint64_t cmp_ne(const Lanes& L, uint64_t a, uint64_t b) {
  return ~cmp_eq(L, a, b) & L.lane;
}

// Picks a where mask is set, b elsewhere.
inline uint64_t select(uint64_t mask, uint64_t a, uint64_t b) { return (a & mask) | (b & ~mask); }

inline uint64_t min(const Lanes& L, uint64_t a, uint64_t b) { return select(cmp_lt(L, a, b), a, b); }
inline uint64_t max(const Lanes& L, uint64_t a, uint64_t b) { return select(cmp_lt(L, a, b), b, a); }

// Value a lane saturates to when an operation on a lane holding `a` overflows
// in a's sign direction: signed max for a >= 0, signed min for a < 0.
inline uint64_t signed_limit_like(const Lanes& L, uint64_t a) {
  return (L.lane & ~L.msb) + ((a & L.msb) >> (L.bits - 1));
}

inline uint64_t add_sat(const Lanes& L, uint64_t a, uint64_t b) {
  const uint64_t s = add(L, a, b);
  if (!L.format.is_signed) {
    const uint64_t carry = (a & b) | ((a | b) & ~s);
    return s | spread_msb(L, carry);
  }
  const uint64_t overflow = ~(a ^ b) & (a ^ s);  // same signs in, other sign out
  return select(spread_msb(L, overflow), signed_limit_like(L, a), s);
}

inline uint64_t sub_sat(const Lanes& L, uint64_t a, uint64_t b) {
  const uint64_t d = sub(L, a, b);
  if (!L.format.is_signed) {
    const uint64_t borrow = (~a & b) | (~(a ^ b) & d);
    return d & ~spread_msb(L, borrow);
  }
  const uint64_t overflow = (a ^ b) & (a ^ d);  // different signs in, b's sign out
  return select(spread_msb(L, overflow), signed_limit_like(L, a), d);
}

// Shifts by r bits within each lane; r >= bits gives 0 (or the sign fill).
// shr_arith reads every lane as two's complement whatever the format says;
// shr picks arithmetic or logical from the format.
inline uint64_t shl(const Lanes& L, uint64_t a, int r) {
  if (r >= L.bits) return 0;
  // Drop the bits that would leave the lane before shifting, or they would
  // land in the next lane when there is no spacer to absorb them.
  return (a & (L.lsb * ((uint64_t{1} << (L.bits - r)) - 1))) << r;
}
inline uint64_t shr_logical(const Lanes& L, uint64_t a, int r) {
  if (r >= L.bits) return 0;
  // The keep-mask is built per lane (lsb * (2^(bits-r) - 1)); shifting L.lane
  // instead would let the next lane's low bits in whenever r > spacer.
  return (a >> r) & (L.lsb * ((uint64_t{1} << (L.bits - r)) - 1));
}
inline uint64_t shr_arith(const Lanes& L, uint64_t a, int r) {
  const uint64_t negative = spread_msb(L, a);
  if (r >= L.bits) return negative;
  const uint64_t keep = L.lsb * ((uint64_t{1} << (L.bits - r)) - 1);
  return ((a >> r) & keep) | (negative & ~keep & L.lane);
}
// Arithmetic for signed formats, logical for unsigned.
inline uint64_t shr(const Lanes& L, uint64_t a, int r) {
  return L.format.is_signed ? shr_arith(L, a, r) : shr_logical(L, a, r);
}

// max(lane, 0) on signed lanes; identity on unsigned ones.
inline uint64_t relu(const Lanes& L, uint64_t a) {
  if (!L.format.is_signed) return a;
  return a & ~spread_msb(L, a);
}

// Lane-wise a * c modulo 2^bits (any c, signed or not). Even and odd lanes are
// multiplied separately so each product has a free lane to grow into.
inline uint64_t mul(const Lanes& L, uint64_t a, int64_t c) {
  const uint64_t cu = static_cast<uint64_t>(c) & L.lane_max;
  return (((a & L.even) * cu) & L.even) | (((a & L.odd) * cu) & L.odd);
}

// Exact lane-wise a * c with one multiply, for unsigned lanes and
// 0 <= c < 2^spacer: each product fills its whole field, i.e. the result is in
// format {bits = field, unsigned, spacer 0}. Precondition checked by callers.
inline uint64_t mul_exact(uint64_t a, uint64_t c) { return a * c; }

// Sum of all lanes (sign-aware), by folding neighbouring lanes into fields of
// twice the width until one is left.
inline int64_t hsum(const Lanes& L, uint64_t a) {
  uint64_t x = a & L.lane;
  if (L.format.is_signed) x ^= L.msb;  // bias to unsigned, remove the bias below
  int f = L.field, n = L.count;
  while (n > 1) {
    const uint64_t m = repeat_low_bits(f, 2 * f, (n + 1) / 2);
    x = (x & m) + ((x >> f) & m);
    f *= 2;
    n = (n + 1) / 2;
  }
  int64_t sum = static_cast<int64_t>(x);
  if (L.format.is_signed) sum -= int64_t{L.count} << (L.bits - 1);
  return sum;
}

// Widens lanes to `out_bits` (bits <= out_bits <= 2 * field) in fields twice
// as wide: `even` receives lanes 0, 2, 4, ... and `odd` lanes 1, 3, 5, ... in
// format {out_bits, same signedness, spacer 2 * field - out_bits}; signed
// lanes are sign-extended. Throws when the lane count is odd and the last lane
// would fall outside the word.
struct WidePair {
  uint64_t even, odd;
  LaneFormat format;
};
WidePair widen(const Lanes& L, uint64_t a, int out_bits);

}  // namespace bitlane::swar
