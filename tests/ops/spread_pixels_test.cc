// The pixel spreads of the integer convolution's input (ops/kernels/
// spread_pixels.h) against their definition, dst[x * unit + j] = j < run ?
// src[x * stride + j] : 0, byte for byte on every SIMD target: every unit,
// stride and run the convolution can ask for, row lengths around the
// 16- and 64-byte blocks, sources exactly as long as the pixels read (the
// ASan build catches a read past them) and guard bytes after the output;
// rows padded on the fly against the same rows padded by hand.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "ops/kernels/spread_pixels.h"
#include "tests/simd_targets.h"

using namespace bitlane::ops::detail;

namespace {

constexpr size_t kGuard = 72;  // bytes after the output that must stay 0xA5

// Every spread the convolution can ask for, on every SIMD target.
template <class F>
void for_each_spread(F&& body) {
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (size_t unit : {4, 8})
      for (size_t stride = 1; stride <= unit; ++stride)
        for (size_t run = stride; run <= unit; ++run) body(pixel_spread(stride, run, unit));
  });
}

// Bytes of dst (count pixels, then the guard) that differ from the spread's
// definition over `row`.
size_t mismatches(const PixelSpread& s, const uint8_t* row, size_t count, const std::vector<uint8_t>& dst) {
  size_t wrong = 0;
  for (size_t x = 0; x < count; ++x)
    for (size_t j = 0; j < s.unit; ++j) wrong += dst[x * s.unit + j] != (j < s.run ? row[x * s.stride + j] : 0);
  for (size_t i = count * s.unit; i < dst.size(); ++i) wrong += dst[i] != 0xA5;
  return wrong;
}

}  // namespace

TEST_CASE("pixel spreads equal their definition on every target, reading and writing nothing past the row") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  for_each_spread([&](const PixelSpread& s) {
    for (size_t count : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 28, 31, 32, 33, 63, 64, 65, 100}) {
      INFO("unit " << s.unit << " stride " << s.stride << " run " << s.run << " pixels " << count);
      std::vector<uint8_t> src(count ? (count - 1) * s.stride + s.run : 0);
      for (auto& b : src) b = static_cast<uint8_t>(byte(rng));
      std::vector<uint8_t> dst(count * s.unit + kGuard, 0xA5);
      spread_pixels(s, src.data(), count, dst.data());
      CHECK(mismatches(s, src.data(), count, dst) == 0);
    }
  });
}

TEST_CASE("a padded row's spread equals the spread of the row padded by hand, in registers or through memory") {
  // Rows up to 64 bytes stay in a register on AVX3_DL: lengths on both sides
  // of that, rows all padding, all source, and source bytes at either end.
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> byte(0, 255);
  for_each_spread([&](const PixelSpread& s) {
    for (size_t count : {1, 7, 8, 9, 16, 28, 30, 40, 64, 70}) {
      const size_t need = (count - 1) * s.stride + s.run;
      for (size_t row_bytes : {need, need + 1, need + 3})
        for (size_t left : {size_t{0}, size_t{1}, size_t{2}, row_bytes / 3, row_bytes}) {
          if (left > row_bytes) continue;
          for (size_t bytes : {size_t{0}, size_t{1}, (row_bytes - left) / 2, row_bytes - left}) {
            if (left + bytes > row_bytes) continue;
            INFO("unit " << s.unit << " stride " << s.stride << " run " << s.run << " pixels " << count << " row "
                         << row_bytes << " left " << left << " bytes " << bytes);
            const auto pad = static_cast<uint8_t>(byte(rng));
            std::vector<uint8_t> src(bytes), row(row_bytes, pad), scratch(row_bytes + kScratchSlack);
            for (size_t i = 0; i < bytes; ++i) row[left + i] = src[i] = static_cast<uint8_t>(byte(rng));
            std::vector<uint8_t> dst(count * s.unit + kGuard, 0xA5);
            spread_padded_row(s, src.data(), bytes, left, row_bytes, pad, count, scratch.data(), dst.data());
            CHECK(mismatches(s, row.data(), count, dst) == 0);
          }
        }
    }
  });
}

TEST_CASE("a pixel spread outside what the convolution can ask for is refused") {
  CHECK_THROWS(pixel_spread(1, 1, 6));  // unit
  CHECK_THROWS(pixel_spread(0, 1, 4));  // stride
  CHECK_THROWS(pixel_spread(3, 2, 4));  // stride beyond run
  CHECK_THROWS(pixel_spread(2, 5, 4));  // run beyond unit
  CHECK_NOTHROW(pixel_spread(8, 8, 8));
}
