// The per-target activation packers (swar/pack_kernels.h) against plain
// loops, on every SIMD target: biased bytes and words with zero tails, row
// sums, range checks at both ends of the span, bit planes, swar::sum_rows
// over every element type. Row lengths run across the vector widths
// (16..64 bytes) and their tails.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "swar/int_format.h"
#include "swar/pack_kernels.h"
#include "tests/simd_targets.h"

using namespace bitlane::swar::detail;

namespace {

constexpr size_t kLengths[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 200};

std::vector<uint8_t> random_bytes(size_t n, uint8_t lo, uint8_t span, std::mt19937& rng) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(lo + rng() % (span + 1u));
  return v;
}

// Plane p, word w, bit t of each row is bit p of value 64 w + t (0 past K).
void check_planes(const std::vector<uint8_t>& src, size_t stride, const std::vector<uint64_t>& dst,
                  size_t row_words, size_t rows, size_t k, int planes, size_t kw) {
  for (size_t r = 0; r < rows; ++r)
    for (int p = 0; p < planes; ++p)
      for (size_t w = 0; w < kw; ++w) {
        uint64_t want = 0;
        for (size_t t = 0; t < 64 && 64 * w + t < k; ++t)
          want |= static_cast<uint64_t>((src[r * stride + 64 * w + t] >> p) & 1u) << t;
        REQUIRE(dst[r * row_words + static_cast<size_t>(p) * kw + w] == want);
      }
}

}  // namespace

TEST_CASE("pack kernels: biased bytes, zero tails, sums and range checks equal plain loops") {
  bitlane::test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(3);
    for (size_t k : kLengths) {
      CAPTURE(k);
      const size_t rows = 3, stride = k + 5, padded = (k + 3) / 4 * 4 + 4;
      // A signed 5-bit format read as bytes: values -16..15, biased by +16.
      ByteRowSpec spec;
      spec.add = 16;
      spec.check_lo = static_cast<uint8_t>(-16);
      spec.check_span = 31;
      auto src = random_bytes(rows * stride, static_cast<uint8_t>(-16), 31, rng);
      std::vector<uint8_t> dst(rows * padded, 0xAB);
      std::vector<int64_t> sums(rows, -1);
      REQUIRE(bias_bytes({src.data(), stride, dst.data(), padded, rows, k}, spec, padded, sums.data()));
      for (size_t r = 0; r < rows; ++r) {
        int64_t want_sum = 0;
        for (size_t i = 0; i < padded; ++i) {
          const uint8_t want = i < k ? static_cast<uint8_t>(src[r * stride + i] + 16) : 0;
          want_sum += i < k ? want : 0;
          REQUIRE(dst[r * padded + i] == want);
        }
        CHECK(sums[r] == want_sum);
      }
      CHECK(check_bytes({src.data(), stride, nullptr, 0, rows, k}, spec));
      // One value just outside the span, at each end, anywhere in the rows.
      for (uint8_t bad : {uint8_t{16}, static_cast<uint8_t>(-17)}) {
        auto broken = src;
        broken[(rows - 1) * stride + rng() % k] = bad;
        CHECK_FALSE(check_bytes({broken.data(), stride, nullptr, 0, rows, k}, spec));
        CHECK_FALSE(bias_bytes({broken.data(), stride, dst.data(), padded, rows, k}, spec, padded, nullptr));
      }
    }
  });
}

TEST_CASE("pack kernels: biased 16-bit words equal plain loops") {
  bitlane::test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(4);
    for (size_t k : kLengths) {
      CAPTURE(k);
      const size_t rows = 2, stride = k + 3, padded = k + 6;
      WordRowSpec spec;  // unsigned 16-bit values flipped to signed
      spec.flip = 0x8000;
      spec.check_lo = 0;
      spec.check_span = 0xFFFF;
      std::vector<uint16_t> src(rows * stride);
      for (auto& x : src) x = static_cast<uint16_t>(rng());
      std::vector<uint16_t> dst(rows * padded, 0x1234);
      REQUIRE(bias_words({src.data(), stride, dst.data(), padded, rows, k}, spec, padded));
      for (size_t r = 0; r < rows; ++r)
        for (size_t i = 0; i < padded; ++i)
          REQUIRE(dst[r * padded + i] == (i < k ? static_cast<uint16_t>(src[r * stride + i] ^ 0x8000) : 0));
      WordRowSpec narrow;  // a signed 12-bit format: -2048..2047
      narrow.check_lo = static_cast<uint16_t>(-2048);
      narrow.check_span = 4095;
      for (auto& x : src) x = static_cast<uint16_t>(static_cast<int16_t>(rng() % 4096) - 2048);
      CHECK(bias_words({src.data(), stride, dst.data(), padded, rows, k}, narrow, padded));
      src[rng() % k] = 2048;
      CHECK_FALSE(bias_words({src.data(), stride, dst.data(), padded, rows, k}, narrow, padded));
    }
  });
}

TEST_CASE("pack kernels: bytes widened to 16-bit words equal plain loops, range checked as bytes") {
  bitlane::test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(5);
    for (size_t k : kLengths) {
      CAPTURE(k);
      const size_t rows = 3, stride = k + 5, padded = k + 7;
      for (bool sign_extend : {false, true}) {
        CAPTURE(sign_extend);
        // Unsigned 8-bit (every byte valid), or a signed 6-bit format: -32..31.
        ByteRowSpec spec;
        if (sign_extend) spec.check_lo = static_cast<uint8_t>(-32), spec.check_span = 63;
        auto src = random_bytes(rows * stride, spec.check_lo, spec.check_span, rng);
        src[rng() % k] = static_cast<uint8_t>(spec.check_lo + spec.check_span);  // both ends present
        src[(rows - 1) * stride + rng() % k] = spec.check_lo;
        std::vector<uint16_t> dst(rows * padded, 0x1234);
        REQUIRE(widen_bytes({src.data(), stride, dst.data(), padded, rows, k}, spec, sign_extend, padded));
        for (size_t r = 0; r < rows; ++r)
          for (size_t i = 0; i < padded; ++i) {
            const uint8_t b = src[r * stride + std::min(i, k - 1)];
            const int32_t value = sign_extend ? int32_t{static_cast<int8_t>(b)} : int32_t{b};
            REQUIRE(static_cast<int16_t>(dst[r * padded + i]) == (i < k ? value : 0));
          }
        if (!sign_extend) continue;
        for (uint8_t bad : {uint8_t{32}, static_cast<uint8_t>(-33)}) {
          auto broken = src;
          broken[(rows - 1) * stride + rng() % k] = bad;
          CHECK_FALSE(widen_bytes({broken.data(), stride, dst.data(), padded, rows, k}, spec, true, padded));
        }
      }
    }
  });
}

TEST_CASE("pack kernels: bit planes equal the bits of the values") {
  bitlane::test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(5);
    for (size_t k : kLengths) {
      for (int planes : {1, 3, 8}) {
        CAPTURE(k);
        CAPTURE(planes);
        const size_t rows = 2, stride = k + 1, kw = (k + 63) / 64;
        ByteRowSpec spec;  // unsigned `planes`-bit values
        spec.check_span = static_cast<uint8_t>((1u << planes) - 1);
        auto src = random_bytes(rows * stride, 0, spec.check_span, rng);
        const size_t row_words = static_cast<size_t>(planes) * kw;
        std::vector<uint64_t> dst(rows * row_words, ~uint64_t{0});
        REQUIRE(byte_planes({src.data(), stride, dst.data(), row_words, rows, k}, spec, planes, kw));
        check_planes(src, stride, dst, row_words, rows, k, planes, kw);
        if (planes < 8) {
          const size_t at = rng() % k;
          const uint8_t keep = src[at];
          src[at] = static_cast<uint8_t>(1u << planes);
          CHECK_FALSE(byte_planes({src.data(), stride, dst.data(), row_words, rows, k}, spec, planes, kw));
          src[at] = keep;
          src[stride + k - 1] = static_cast<uint8_t>(1u << planes);  // the last value: in the tail vector
          CHECK_FALSE(byte_planes({src.data(), stride, dst.data(), row_words, rows, k}, spec, planes, kw));
        }
      }
    }
  });
}

TEST_CASE("pack kernels: bit planes of signed bytes, tails zero-padded inside the range") {
  // Signed 3-bit values (-4..3): the zeros that pad a last partial vector are
  // in range and set no bit, so plane words past K stay 0 and the check only
  // sees the real values.
  bitlane::test::for_each_simd_target([](const std::string&) {
    std::mt19937 rng(6);
    for (size_t k : kLengths) {
      CAPTURE(k);
      const int planes = 3;
      const size_t rows = 3, stride = k + 5, kw = (k + 63) / 64, row_words = planes * kw;
      ByteRowSpec spec;
      spec.check_lo = static_cast<uint8_t>(-4);
      spec.check_span = 7;
      auto src = random_bytes(rows * stride, spec.check_lo, spec.check_span, rng);
      std::vector<uint64_t> dst(rows * row_words, ~uint64_t{0});
      REQUIRE(byte_planes({src.data(), stride, dst.data(), row_words, rows, k}, spec, planes, kw));
      check_planes(src, stride, dst, row_words, rows, k, planes, kw);
      src[2 * stride + k - 1] = 4;  // one past the largest
      CHECK_FALSE(byte_planes({src.data(), stride, dst.data(), row_words, rows, k}, spec, planes, kw));
    }
  });
}

TEST_CASE("row sums: every element type, exact at the extremes, equal to a plain loop on every target") {
  using bitlane::swar::ElemType;
  using bitlane::swar::MatrixView;
  // Rows of random values, then rows of the type's minimum and maximum (the
  // sums that widen furthest), read at a stride longer than the row.
  auto check = [](auto tag, ElemType type, std::mt19937& rng) {
    using T = decltype(tag);
    constexpr int64_t lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    for (size_t k : {size_t{0}, size_t{1}, size_t{7}, size_t{16}, size_t{31}, size_t{32}, size_t{33}, size_t{63},
                     size_t{64}, size_t{65}, size_t{127}, size_t{200}, size_t{784}, size_t{5000}}) {
      CAPTURE(k);
      const size_t rows = 5, stride = k + 3;
      std::vector<T> m(rows * stride, T{17});  // the gaps must not be summed
      for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < k; ++c)
          m[r * stride + c] =
              static_cast<T>(r == 3 ? lo : r == 4 ? hi : lo + static_cast<int64_t>(rng() % (hi - lo + 1)));
      std::vector<int64_t> sums(rows, -1);
      bitlane::swar::sum_rows(MatrixView{m.data(), type, rows, k, stride}, sums.data());
      for (size_t r = 0; r < rows; ++r) {
        int64_t want = 0;
        for (size_t c = 0; c < k; ++c) want += m[r * stride + c];
        CHECK_MESSAGE(sums[r] == want, "row " << r);
      }
    }
  };
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(8);
    check(uint8_t{}, ElemType::kU8, rng);
    check(int8_t{}, ElemType::kI8, rng);
    check(int16_t{}, ElemType::kI16, rng);
    check(uint16_t{}, ElemType::kU16, rng);
    check(int32_t{}, ElemType::kI32, rng);
  });
}

TEST_CASE("row sums: 16-bit rows long enough to need the 64-bit flush") {
  // A 32-bit lane takes two words per step: 2^22 words at -32768 would reach
  // -2^32 or beyond in one lane on every target without the flush.
  using bitlane::swar::ElemType;
  bitlane::test::for_each_simd_target([](const std::string&) {
    const size_t k = size_t{1} << 22;
    std::vector<int16_t> lows(k, -32768);
    std::vector<uint16_t> highs(k, 65535);
    int64_t s = 0;
    bitlane::swar::sum_rows({lows.data(), ElemType::kI16, 1, k, k}, &s);
    CHECK(s == -32768 * static_cast<int64_t>(k));
    bitlane::swar::sum_rows({highs.data(), ElemType::kU16, 1, k, k}, &s);
    CHECK(s == 65535 * static_cast<int64_t>(k));
  });
}
