#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "core/error.h"
#include "swar/lane_format.h"
#include "swar/pack.h"

using namespace bitlane::swar;

TEST_CASE("pack places lane i of a word at bit i*field") {
  // Hand-worked: s4 with one spacer bit (field 5, 12 lanes): -1, 2, -8.
  const std::vector<int8_t> v = {-1, 2, -8};
  std::vector<uint64_t> out(1, ~uint64_t{0});
  pack<int8_t>(v, LaneFormat{4, true, 1}, out);
  CHECK(out[0] == (0xFull | (0x2ull << 5) | (0x8ull << 10)));
}

TEST_CASE("pack / unpack round trip for every format, tails zero") {
  std::mt19937 rng(3);
  for (int bits = 1; bits <= 16; ++bits)
    for (bool s : {false, true})
      for (int sp : {0, 1, 3}) {
        const LaneFormat f{bits, s, sp};
        for (size_t n : {size_t{0}, size_t{1}, size_t(f.lanes() - 1), size_t(f.lanes()),
                         size_t(f.lanes() + 1), size_t{100}}) {
          std::vector<int32_t> v(n);
          std::uniform_int_distribution<int64_t> d(f.min_value(), f.max_value());
          for (auto& x : v) x = static_cast<int32_t>(d(rng));
          if (n) v[0] = static_cast<int32_t>(f.min_value());
          if (n > 1) v[n - 1] = static_cast<int32_t>(f.max_value());
          std::vector<uint64_t> words(packed_words(n, f) + 1, ~uint64_t{0});
          pack<int32_t>(v, f, words);
          const Lanes L(f);
          for (size_t w = 0; w < packed_words(n, f); ++w) CHECK((words[w] & ~L.lane) == 0);
          if (n % f.lanes()) {  // unused lanes of the last word are zero
            const uint64_t last = words[packed_words(n, f) - 1];
            for (int i = static_cast<int>(n % f.lanes()); i < f.lanes(); ++i)
              CHECK(L.raw(last, i) == 0);
          }
          CHECK(words.back() == ~uint64_t{0});  // nothing written past the end
          std::vector<int32_t> back(n);
          unpack<int32_t>(words, f, back);
          CHECK(back == v);
        }
      }
}

TEST_CASE("pack rejects or saturates out-of-range values") {
  const std::vector<int16_t> v = {3, 9, -9};
  std::vector<uint64_t> out(1);
  try {
    pack<int16_t>(v, LaneFormat{4, true, 0}, out);
    FAIL("no error");
  } catch (const bitlane::Error& e) {
    CHECK(std::string(e.what()).find("value 9 at index 1") != std::string::npos);
  }
  pack<int16_t>(v, LaneFormat{4, true, 0}, out, OutOfRange::kSaturate);
  std::vector<int16_t> back(3);
  unpack<int16_t>(out, LaneFormat{4, true, 0}, back);
  CHECK(back == std::vector<int16_t>{3, 7, -8});
  CHECK_THROWS_AS(pack<int16_t>(v, LaneFormat{4, true, 0}, std::span<uint64_t>{}), bitlane::Error);
  std::vector<int8_t> narrow(1);
  CHECK_THROWS_AS(unpack<int8_t>(out, LaneFormat{8, false, 0}, narrow), bitlane::Error);
}

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
