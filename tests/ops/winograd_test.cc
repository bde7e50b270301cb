// The integer Winograd convolution (ops/kernels/winograd.h) against the
// definition -- the direct 3 x 3 correlation of the same padded integers,
// summed in int64 here -- on every SIMD target: channel counts around the
// 16-, 32- and 64-byte vectors, output channels around the 16-column
// blocks, odd and even output sizes (tiles cut at the edge), bands of tile
// rows, unsigned and signed inputs up to 6 bits, and the limits past which
// the transformed operands would not fit their bytes.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "ops/kernels/winograd.h"
#include "tests/simd_targets.h"

using namespace bitlane::ops::detail;

// Named: the suite compiles as one unity file.
namespace winograd_test {

struct Case {
  int64_t c, cp, n, oh, ow;
  int32_t lo, hi;  // the inputs' integers
};

// Weights [o][i][j][cp] with the channels past c zero, 4-bit.
std::vector<int16_t> random_weights(const Case& k, std::mt19937& rng, int wlo = -8, int whi = 7) {
  std::vector<int16_t> w(static_cast<size_t>(k.n * 9 * k.cp), 0);
  std::uniform_int_distribution<int> dist(wlo, whi);
  for (int64_t o = 0; o < k.n; ++o)
    for (int64_t ij = 0; ij < 9; ++ij)
      for (int64_t ch = 0; ch < k.c; ++ch)
        w[static_cast<size_t>((o * 9 + ij) * k.cp + ch)] = static_cast<int16_t>(dist(rng));
  return w;
}

// Sums of output rows [2 ty0, min(oh, 2 ty1)) by the definition.
std::vector<int64_t> direct(const Case& k, const std::vector<int16_t>& w, const std::vector<uint8_t>& x, int64_t wp,
                            int64_t ty0, int64_t ty1) {
  const int64_t y1 = std::min(k.oh, 2 * ty1);
  std::vector<int64_t> s(static_cast<size_t>((y1 - 2 * ty0) * k.ow * k.n), 0);
  const bool is_signed = k.lo < 0;
  for (int64_t oy = 2 * ty0; oy < y1; ++oy)
    for (int64_t ox = 0; ox < k.ow; ++ox)
      for (int64_t o = 0; o < k.n; ++o) {
        int64_t sum = 0;
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 3; ++j)
            for (int64_t ch = 0; ch < k.cp; ++ch) {
              const uint8_t byte = x[static_cast<size_t>(((oy + i) * wp + ox + j) * k.cp + ch)];
              const int64_t a = is_signed ? int64_t{static_cast<int8_t>(byte)} : int64_t{byte};
              sum += a * w[static_cast<size_t>((o * 9 + i * 3 + j) * k.cp + ch)];
            }
        s[static_cast<size_t>(((oy - 2 * ty0) * k.ow + ox) * k.n + o)] = sum;
      }
  return s;
}

// Where the image lies on the padded grid (WinogradImage): rows [top, top +
// h) and columns [left, left + w) in memory, the rest pad pixels.
struct Placement {
  int64_t top, left, h, w;
};

// Runs one case on the current target, whole and in bands of tile rows,
// with the image as a padded copy (the whole grid in memory) and with parts
// of the grid's border only implied (each side 0..3 pixels of pad, as a
// layer's padding and an odd size's extra row or column give them); returns
// the number of wrong sums (and of overwritten guard columns).
size_t check(const Case& k, std::mt19937& rng) {
  const std::vector<int16_t> w = random_weights(k, rng);
  const WinogradWeights ww = winograd_weights(w.data(), k.n, k.cp, k.lo, k.hi);
  REQUIRE_FALSE(ww.empty());
  const int64_t tiles_y = (k.oh + 1) / 2, hp = 2 * tiles_y + 2, wp = 2 * ((k.ow + 1) / 2) + 2;
  std::uniform_int_distribution<int> dist(k.lo, k.hi), side(0, 3);
  const size_t ldc = static_cast<size_t>(ww.blocks) * 16 + 3;  // 3 guard columns the sums must not touch
  constexpr int32_t kGuard = 0x5A5A5A5A;
  size_t wrong = 0;
  for (const bool copy : {true, false}) {
    Placement at{0, 0, hp, wp};
    if (!copy) {
      at.top = side(rng), at.left = side(rng);
      at.h = std::max<int64_t>(1, hp - at.top - side(rng)), at.w = std::max<int64_t>(1, wp - at.left - side(rng));
    }
    CAPTURE(copy);
    CAPTURE(at.top);
    CAPTURE(at.left);
    const auto pad = static_cast<uint8_t>(dist(rng));
    // The grid the direct sums read: pad pixels outside the image (every
    // channel), the image's integers inside (channels past c: 0).
    std::vector<uint8_t> grid(static_cast<size_t>(hp * wp * k.cp), 0);
    // The image in memory, exactly as long as the contract's 64 readable
    // bytes past it (the ASan build catches reads further out).
    std::vector<uint8_t> image(static_cast<size_t>(at.h * at.w * k.cp) + 64, 0);
    for (int64_t y = 0; y < hp; ++y)
      for (int64_t x = 0; x < wp; ++x) {
        const bool inside = y >= at.top && y < at.top + at.h && x >= at.left && x < at.left + at.w;
        for (int64_t ch = 0; ch < k.cp; ++ch) {
          uint8_t& g = grid[static_cast<size_t>((y * wp + x) * k.cp + ch)];
          if (!inside) g = pad;
          else if (ch < k.c) g = static_cast<uint8_t>(dist(rng));
          if (inside) image[static_cast<size_t>(((y - at.top) * at.w + x - at.left) * k.cp + ch)] = g;
        }
      }
    const WinogradImage in{image.data(), at.h, at.w, at.top, at.left, pad};
    for (int64_t band : {tiles_y, int64_t{1}, int64_t{2}})
      for (int64_t ty0 = 0; ty0 < tiles_y; ty0 += band) {
        const int64_t ty1 = std::min(tiles_y, ty0 + band), rows = (std::min(k.oh, 2 * ty1) - 2 * ty0) * k.ow;
        std::vector<int32_t> sums(static_cast<size_t>(rows) * ldc, kGuard);
        winograd_sums(ww, in, k.oh, k.ow, ty0, ty1, sums.data(), ldc);
        const std::vector<int64_t> want = direct(k, w, grid, wp, ty0, ty1);
        for (int64_t r = 0; r < rows; ++r) {
          const int32_t* row = sums.data() + static_cast<size_t>(r) * ldc;
          for (int64_t o = 0; o < k.n; ++o) wrong += row[o] != want[static_cast<size_t>(r * k.n + o)];
          for (size_t o = static_cast<size_t>(k.n); o < ldc - 3; ++o) wrong += row[o] != 0;
          for (size_t o = ldc - 3; o < ldc; ++o) wrong += row[o] != kGuard;
        }
      }
  }
  return wrong;
}

}  // namespace winograd_test

TEST_CASE("winograd: the sums are the direct 3x3 correlation's on every SIMD target") {
  using namespace winograd_test;
  std::mt19937 rng(7);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    // Channels around the byte vectors (16 / 32 / 64), the real ones fewer
    // than the padded where the convolution pads them; outputs around the
    // 16-column blocks; sizes odd and even, narrower than a chunk of tiles
    // and wider (40 columns: 20 tiles, a chunk of 16 and a rest).
    const winograd_test::Case cases[] = {
        {16, 16, 16, 28, 28, 0, 15}, {1, 4, 1, 1, 1, 0, 15},    {3, 4, 6, 5, 3, 0, 15},
        {8, 8, 17, 2, 40, 0, 15},    {20, 20, 16, 7, 7, 0, 15},  {32, 32, 32, 14, 14, 0, 15},
        {30, 32, 40, 3, 9, 0, 63},   {36, 36, 9, 4, 4, -8, 7},   {64, 64, 64, 7, 7, 0, 15},
        {68, 68, 16, 3, 5, -32, 31}, {16, 16, 16, 9, 33, -32, 31},
    };
    for (const winograd_test::Case& k : cases) {
      CAPTURE(k.c);
      CAPTURE(k.n);
      CAPTURE(k.oh);
      CAPTURE(k.ow);
      CAPTURE(k.lo);
      CHECK(check(k, rng) == 0);
    }
  });
}

TEST_CASE("winograd: the weight transform by hand, and the limits of its bytes") {
  // One output, one channel (padded to 4), g = 1..9 row by row. U = G' g G'^T
  // with G' = [2 0 0; 1 1 1; 1 -1 1; 0 0 2], worked by hand:
  //   U[0][0] = 4 g00 = 4, U[0][1] = 2 (g00 + g01 + g02) = 12,
  //   U[1][1] = sum of all = 45, U[1][2] = rows summed (12 15 18), times
  //   (1 -1 1) = 15, U[2][2] = (1 -1 1) g (1 -1 1)^T = 5, U[3][3] = 4 g22 = 36.
  std::vector<int16_t> w(9 * 4, 0);
  for (int ij = 0; ij < 9; ++ij) w[static_cast<size_t>(ij * 4)] = static_cast<int16_t>(ij + 1);
  const WinogradWeights ww = winograd_weights(w.data(), 1, 4, 0, 15);
  REQUIRE_FALSE(ww.empty());
  // U at position (i, j), block 0, unit 0, column 0, channel 0.
  auto u = [&](int i, int j) { return int{ww.u[static_cast<size_t>((4 * i + j) * 64)]}; };
  CHECK(u(0, 0) == 4);
  CHECK(u(0, 1) == 12);
  CHECK(u(1, 1) == 45);
  CHECK(u(1, 2) == 15);
  CHECK(u(2, 2) == 5);
  CHECK(u(3, 3) == 36);
  // Position (1, 1) adds 4 inputs: V in [0, 60] needs no bias; (0, 0) adds 2
  // and subtracts 2: [-30, 30], bias 30. The starts take the bias back.
  CHECK(ww.bias[5] == 0);
  CHECK(ww.bias[0] == 30);
  CHECK(ww.start[0] == -30 * 4);

  // 4-bit weights at their extremes fit (|U| <= 72); 5-bit ones need not.
  std::vector<int16_t> big(9 * 4, 0);
  for (int ij = 0; ij < 9; ++ij) big[static_cast<size_t>(ij * 4)] = -8;
  CHECK_FALSE(winograd_weights(big.data(), 1, 4, 0, 15).empty());
  for (int ij = 0; ij < 9; ++ij) big[static_cast<size_t>(ij * 4)] = 15;
  CHECK(winograd_weights(big.data(), 1, 4, 0, 15).empty());  // U[1][1] = 135
  // Inputs spanning 63 fit a byte after the transform (4 x 63 = 252); 64 do not.
  CHECK_FALSE(winograd_weights(w.data(), 1, 4, 0, 63).empty());
  CHECK_FALSE(winograd_weights(w.data(), 1, 4, -32, 31).empty());
  CHECK(winograd_weights(w.data(), 1, 4, 0, 64).empty());
  CHECK(winograd_weights(w.data(), 1, 4, -33, 31).empty());
  // Integer 0 (padding channels) counts as an input: [8, 63] spans 63 with it.
  CHECK_FALSE(winograd_weights(w.data(), 1, 4, 8, 63).empty());
  CHECK(winograd_weights(w.data(), 1, 4, 8, 64).empty());
  // Channels not in whole units of 4 are the caller's to pad.
  CHECK(winograd_weights(w.data(), 1, 3, 0, 15).empty());
  // Arm's SDOT takes V + bias as s8: every span at most 127. The widest
  // position adds 4 inputs ([0, 60] above): inputs spanning 31 give 124,
  // 32 give 128; a signed range spans the same.
  CHECK(ww.s8_inputs);
  CHECK(winograd_weights(w.data(), 1, 4, 0, 31).s8_inputs);
  CHECK(winograd_weights(w.data(), 1, 4, -16, 15).s8_inputs);
  CHECK_FALSE(winograd_weights(w.data(), 1, 4, 0, 32).s8_inputs);
  CHECK_FALSE(winograd_weights(w.data(), 1, 4, -16, 16).s8_inputs);
  CHECK_FALSE(winograd_weights(w.data(), 1, 4, -32, 31).s8_inputs);
}

TEST_CASE("winograd: int16 pair sums stay exact at their bound on every SIMD target") {
  // Without VPDPBUSD, a unit's PMADDUBSW pair sums (V + bias times the U of
  // 2 channels) are added in int16 lanes for pair_units units. The largest
  // pair: position (1, 1), whose V adds 4 inputs (V + bias up to 4 x 15 =
  // 60) and whose U sums all 9 weights. Every weight 7: U = 63, a pair
  // 60 x 126 = 7560, 4 units (30240; 5 would wrap). Every weight -8: U =
  // -72, a pair -8640, 3 units (-25920; 4 would wrap). 8 units of channels
  // take 2 and 3 chunks; every input 15 (image and padding) makes every
  // pair sum its extreme, and every output 9 x 32 x 15 x w.
  for (const int weight : {7, -8}) {
    CAPTURE(weight);
    const int64_t cp = 32, n = 16, side = 6;
    const std::vector<int16_t> w(static_cast<size_t>(n * 9 * cp), static_cast<int16_t>(weight));
    const WinogradWeights ww = winograd_weights(w.data(), n, cp, 0, 15);
    REQUIRE_FALSE(ww.empty());
    CHECK(ww.pair_units == (weight == 7 ? 4 : 3));
    const std::vector<uint8_t> image(static_cast<size_t>(side * side * cp) + 64, 15);
    const WinogradImage in{image.data(), side, side, 1, 1, 15};
    const size_t ldc = static_cast<size_t>(ww.blocks) * 16;
    bitlane::test::for_each_simd_target([&](const std::string&) {
      std::vector<int32_t> sums(static_cast<size_t>(side * side) * ldc, 0);
      winograd_sums(ww, in, side, side, 0, side / 2, sums.data(), ldc);
      size_t wrong = 0;
      for (int32_t s : sums) wrong += s != 9 * 32 * 15 * weight;
      CHECK(wrong == 0);
    });
  }
  // Inputs spanning 63 (V + bias up to 252 at the 4 inner positions). The
  // kernel's centre 7 in channels 0 and 1 of 64: U = +-7 there (G' column 1
  // is 0 1 -1 0), pairs of 252 x 14, 9 of 16 units; capped at the units: 1
  // for 4 channels. All 9 weights of channels 0 and 1 at 14: U[1][1] = 126
  // per channel, and one pair, 252 x 252, wraps by itself (0 units).
  std::vector<int16_t> w(9 * 64, 0);
  w[4 * 64] = 7, w[4 * 64 + 1] = 7;
  CHECK(winograd_weights(w.data(), 1, 64, 0, 63).pair_units == 32767 / (252 * 14));
  std::vector<int16_t> w4(9 * 4, 0);
  w4[4 * 4] = 7, w4[4 * 4 + 1] = 7;
  CHECK(winograd_weights(w4.data(), 1, 4, 0, 63).pair_units == 1);
  for (int ij = 0; ij < 9; ++ij) w[static_cast<size_t>(ij * 64)] = 14, w[static_cast<size_t>(ij * 64 + 1)] = 14;
  CHECK(winograd_weights(w.data(), 1, 64, 0, 63).pair_units == 0);
}
