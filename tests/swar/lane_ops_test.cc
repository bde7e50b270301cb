// Lane operations against a scalar reference that works on one lane value at
// a time. For widths 1..8 every value pair is checked, in every lane
// position, with neighbouring lanes set to bit patterns that provoke carries
// and borrows across lanes (the classic SWAR bug). Wider lanes get random
// pairs.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "swar/lane_ops.h"

using namespace bitlane::swar;

namespace {

// Reduces v modulo 2^bits into the format's value range.
int64_t wrap(const LaneFormat& f, int64_t v) {
  const uint64_t raw = static_cast<uint64_t>(v) & ((uint64_t{1} << f.bits) - 1);
  int64_t r = static_cast<int64_t>(raw);
  if (f.is_signed && (raw >> (f.bits - 1))) r -= int64_t{1} << f.bits;
  return r;
}
int64_t clampf(const LaneFormat& f, int64_t v) {
  return std::clamp(v, f.min_value(), f.max_value());
}
int64_t mask_of(const LaneFormat& f, bool b) { return b ? wrap(f, -1) : 0; }

// A binary lane operation and its one-lane reference (a lane value result).
struct BinaryOp {
  std::string name;
  std::function<uint64_t(const Lanes&, uint64_t, uint64_t)> swar;
  std::function<int64_t(const LaneFormat&, int64_t, int64_t)> ref;
};

std::vector<BinaryOp> binary_ops() {
  return {
      {"add", [](auto& L, auto a, auto b) { return add(L, a, b); },
       [](auto& f, auto x, auto y) { return wrap(f, x + y); }},
      {"sub", [](auto& L, auto a, auto b) { return sub(L, a, b); },
       [](auto& f, auto x, auto y) { return wrap(f, x - y); }},
      {"add_sat", [](auto& L, auto a, auto b) { return add_sat(L, a, b); },
       [](auto& f, auto x, auto y) { return clampf(f, x + y); }},
      {"sub_sat", [](auto& L, auto a, auto b) { return sub_sat(L, a, b); },
       [](auto& f, auto x, auto y) { return clampf(f, x - y); }},
      {"min", [](auto& L, auto a, auto b) { return min(L, a, b); },
       [](auto&, auto x, auto y) { return std::min(x, y); }},
      {"max", [](auto& L, auto a, auto b) { return max(L, a, b); },
       [](auto&, auto x, auto y) { return std::max(x, y); }},
      {"cmp_lt", [](auto& L, auto a, auto b) { return cmp_lt(L, a, b); },
       [](auto& f, auto x, auto y) { return mask_of(f, x < y); }},
      {"cmp_le", [](auto& L, auto a, auto b) { return cmp_le(L, a, b); },
       [](auto& f, auto x, auto y) { return mask_of(f, x <= y); }},
      {"cmp_gt", [](auto& L, auto a, auto b) { return cmp_gt(L, a, b); },
       [](auto& f, auto x, auto y) { return mask_of(f, x > y); }},
      {"cmp_ge", [](auto& L, auto a, auto b) { return cmp_ge(L, a, b); },
       [](auto& f, auto x, auto y) { return mask_of(f, x >= y); }},
      {"cmp_eq", [](auto& L, auto a, auto b) { return cmp_eq(L, a, b); },
       [](auto& f, auto x, auto y) { return mask_of(f, x == y); }},
      {"cmp_ne", [](auto& L, auto a, auto b) { return cmp_ne(L, a, b); },
       [](auto& f, auto x, auto y) { return mask_of(f, x != y); }},
  };
}

// Raw lane patterns for the neighbours of the lane under test.
std::vector<uint64_t> neighbour_patterns(const Lanes& L) {
  return {0, L.lane_max, uint64_t{1} << (L.bits - 1), L.lane_max >> 1, 1};
}
uint64_t fill(const Lanes& L, uint64_t raw) { return L.lsb * raw; }

// mul(a, c) multiplies every lane by one scalar c.
void check_mul_all_pairs(const LaneFormat& f) {
  const Lanes L(f);
  const auto patterns = neighbour_patterns(L);
  size_t position = 0;
  for (int64_t x = f.min_value(); x <= f.max_value(); ++x)
    for (int64_t c = f.min_value(); c <= f.max_value(); ++c) {
      const int lane = static_cast<int>(position++ % static_cast<size_t>(L.count));
      for (uint64_t p : patterns) {
        const uint64_t a = L.with(fill(L, p), lane, x);
        const uint64_t r = mul(L, a, c);
        REQUIRE((r & ~L.lane) == 0);
        for (int i = 0; i < L.count; ++i)
          if (L.value(r, i) != wrap(f, L.value(a, i) * c)) {
            FAIL_CHECK("mul " << f.to_string() << " lane " << i << ": " << L.value(a, i) << " * "
                              << c << " -> " << L.value(r, i));
            return;
          }
      }
    }
}

std::vector<LaneFormat> formats_up_to(int max_bits, std::initializer_list<int> spacers) {
  std::vector<LaneFormat> out;
  for (int bits = 1; bits <= max_bits; ++bits)
    for (bool s : {false, true})
      for (int sp : spacers)
        if (bits + sp <= 64) out.push_back({bits, s, sp});
  return out;
}

// Checks op on every value pair of the format: each pair in one lane (cycling
// the position), neighbours filled with each pattern in turn.
void check_all_pairs(const LaneFormat& f, const BinaryOp& op) {
  const Lanes L(f);
  const int64_t lo = f.min_value(), hi = f.max_value();
  const auto patterns = neighbour_patterns(L);
  size_t position = 0;
  for (int64_t x = lo; x <= hi; ++x)
    for (int64_t y = lo; y <= hi; ++y) {
      const int lane = static_cast<int>(position++ % static_cast<size_t>(L.count));
      for (uint64_t pa : patterns)
        for (uint64_t pb : {patterns[0], patterns[1], patterns[2]}) {
          const uint64_t a = L.with(fill(L, pa), lane, x);
          const uint64_t b = L.with(fill(L, pb), lane, y);
          const uint64_t r = op.swar(L, a, b);
          const int64_t want = op.ref(f, x, y);
          if (L.value(r, lane) != want || (r & ~L.lane) != 0) {
            FAIL_CHECK(op.name << " " << f.to_string() << " lane " << lane << ": " << x << ", "
                               << y << " -> " << L.value(r, lane) << ", want " << want);
            return;
          }
          // The other lanes must hold the pattern's own result.
          const int other = lane == 0 ? 1 % L.count : 0;
          if (other != lane) {
            const int64_t nx = L.value(a, other), ny = L.value(b, other);
            if (L.value(r, other) != op.ref(f, nx, ny)) {
              FAIL_CHECK(op.name << " " << f.to_string() << ": neighbour lane " << other
                                 << " disturbed by lane " << lane << " (" << x << ", " << y
                                 << ")");
              return;
            }
          }
        }
    }
}

}  // namespace

TEST_CASE("lane formats: masks and geometry") {
  const Lanes u4(LaneFormat{4, false, 0});
  CHECK(u4.count == 16);
  CHECK(u4.lane == ~uint64_t{0});
  CHECK(u4.msb == 0x8888888888888888ull);
  CHECK(u4.lsb == 0x1111111111111111ull);
  const Lanes s3p2(LaneFormat{3, true, 2});  // field 5, 12 lanes, bits 60..63 unused
  CHECK(s3p2.count == 12);
  CHECK(s3p2.lane == 0x039CE739CE739CE7ull);  // 0b00111 in each of 12 fields
  CHECK(s3p2.value(s3p2.with(0, 11, -4), 11) == -4);
  CHECK_THROWS_AS(Lanes(LaneFormat{0, false, 0}), bitlane::Error);
  CHECK_THROWS_AS(Lanes(LaneFormat{17, false, 0}), bitlane::Error);
  CHECK_THROWS_AS(Lanes(LaneFormat{8, false, 57}), bitlane::Error);
}

TEST_CASE("binary lane operations, every value pair, widths 1..8") {
  for (const BinaryOp& op : binary_ops()) {
    SUBCASE(op.name.c_str()) {
      for (const LaneFormat& f : formats_up_to(8, {0, 1, 3})) check_all_pairs(f, op);
    }
  }
}

TEST_CASE("multiply by a scalar, every value pair, widths 1..8") {
  for (const LaneFormat& f : formats_up_to(8, {0, 2})) check_mul_all_pairs(f);
}

TEST_CASE("binary lane operations, random pairs, widths 9..16") {
  std::mt19937_64 rng(42);
  for (const BinaryOp& op : binary_ops()) {
    for (int bits = 9; bits <= 16; ++bits)
      for (bool s : {false, true})
        for (int sp : {0, 2}) {
          const LaneFormat f{bits, s, sp};
          const Lanes L(f);
          for (int trial = 0; trial < 2000; ++trial) {
            uint64_t a = rng() & L.lane, b = rng() & L.lane;
            if (trial % 4 == 0) b = a;  // equal operands
            if (trial % 8 == 1) a = fill(L, L.lane_max);
            const uint64_t r = op.swar(L, a, b);
            REQUIRE((r & ~L.lane) == 0);
            for (int i = 0; i < L.count; ++i)
              REQUIRE_MESSAGE(L.value(r, i) == op.ref(f, L.value(a, i), L.value(b, i)),
                              op.name << " " << f.to_string() << " lane " << i);
          }
        }
  }
}

TEST_CASE("unary lane operations: neg, relu, shifts, every value and shift") {
  for (const LaneFormat& f : formats_up_to(8, {0, 1, 4})) {
    const Lanes L(f);
    const auto patterns = neighbour_patterns(L);
    size_t position = 0;
    for (int64_t x = f.min_value(); x <= f.max_value(); ++x) {
      const int lane = static_cast<int>(position++ % static_cast<size_t>(L.count));
      for (uint64_t p : patterns) {
        const uint64_t a = L.with(fill(L, p), lane, x);
        CHECK(L.value(neg(L, a), lane) == wrap(f, -x));
        CHECK(L.value(relu(L, a), lane) == (f.is_signed ? std::max<int64_t>(x, 0) : x));
        for (int r = 0; r <= f.bits + 1; ++r) {
          const uint64_t raw = static_cast<uint64_t>(x) & L.lane_max;
          const int64_t want_shl = r >= f.bits ? 0 : wrap(f, x * (int64_t{1} << r));
          const int64_t want_lsr = r >= f.bits ? 0 : wrap(f, static_cast<int64_t>(raw >> r));
          // shr_arith reads every lane as two's complement, whatever the format.
          const int64_t sx = static_cast<int64_t>(raw) - ((raw >> (f.bits - 1)) << f.bits);
          const int64_t want_asr = r >= f.bits ? (sx < 0 ? wrap(f, -1) : 0) : wrap(f, sx >> r);
          const uint64_t got_shl = shl(L, a, r), got_lsr = shr_logical(L, a, r),
                         got_asr = shr_arith(L, a, r);
          REQUIRE_MESSAGE(L.value(got_shl, lane) == want_shl, "shl " << f.to_string() << " " << x << " by " << r);
          REQUIRE_MESSAGE(L.value(got_lsr, lane) == want_lsr, "shr_logical " << f.to_string() << " " << x << " by " << r);
          REQUIRE_MESSAGE(L.value(got_asr, lane) == want_asr, "shr_arith " << f.to_string() << " " << x << " by " << r);
          // Neighbours shift independently.
          const int other = lane == 0 ? 1 % L.count : 0;
          if (other != lane) {
            const uint64_t nraw = L.raw(a, other);
            const int64_t nsx = static_cast<int64_t>(nraw) - ((nraw >> (f.bits - 1)) << f.bits);
            REQUIRE(L.value(got_lsr, other) ==
                    (r >= f.bits ? 0 : wrap(f, static_cast<int64_t>(nraw >> r))));
            REQUIRE(L.value(got_asr, other) ==
                    (r >= f.bits ? (nsx < 0 ? wrap(f, -1) : 0) : wrap(f, nsx >> r)));
          }
          REQUIRE(((got_shl | got_lsr | got_asr) & ~L.lane) == 0);
        }
      }
    }
  }
}

TEST_CASE("horizontal sums match the lane-by-lane sum") {
  std::mt19937_64 rng(7);
  for (const LaneFormat& f : formats_up_to(16, {0, 1, 5})) {
    const Lanes L(f);
    // Extremes first: every lane at min, at max.
    int64_t n = L.count;
    uint64_t all_min = 0, all_max = 0;
    for (int i = 0; i < L.count; ++i) {
      all_min = L.with(all_min, i, f.min_value());
      all_max = L.with(all_max, i, f.max_value());
    }
    CHECK(hsum(L, all_min) == n * f.min_value());
    CHECK(hsum(L, all_max) == n * f.max_value());
    for (int t = 0; t < 300; ++t) {
      const uint64_t a = rng() & L.lane;
      int64_t want = 0;
      for (int i = 0; i < L.count; ++i) want += L.value(a, i);
      REQUIRE_MESSAGE(hsum(L, a) == want, f.to_string());
    }
  }
}

TEST_CASE("widening keeps every lane's value (even/odd split)") {
  for (const LaneFormat& f : formats_up_to(8, {0, 1, 2})) {
    const Lanes L(f);
    for (int out_bits : {f.bits, std::min(16, 2 * f.field())}) {
      if ((L.count + 1) / 2 > 64 / (2 * f.field())) {
        CHECK_THROWS_AS(widen(L, 0, out_bits), bitlane::Error);
        continue;
      }
      size_t position = 0;
      for (int64_t x = f.min_value(); x <= f.max_value(); ++x) {
        uint64_t a = 0;
        for (int i = 0; i < L.count; ++i)  // distinct neighbours: x, x+1, ... wrapped
          a = L.with(a, i, wrap(f, x + i * 3 + static_cast<int64_t>(position)));
        ++position;
        const WidePair w = widen(L, a, out_bits);
        const Lanes W(w.format);
        REQUIRE(W.format.bits == out_bits);
        for (int i = 0; i < L.count; ++i) {
          const uint64_t word = i % 2 ? w.odd : w.even;
          REQUIRE_MESSAGE(W.value(word, i / 2) == L.value(a, i),
                          f.to_string() << " -> " << out_bits << " lane " << i);
        }
        REQUIRE((w.even & ~W.lane) == 0);
        REQUIRE((w.odd & ~W.lane) == 0);
      }
    }
  }
}
