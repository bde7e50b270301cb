// The LSTM cell update (ops/kernels/lstm_cell.h) on every SIMD target
// against the equations evaluated in double precision, over gate
// pre-activations from 1e-3 to past the range where the exponential
// saturates, with row lengths that leave a tail on every target.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "ops/kernels/lstm_cell.h"
#include "tests/simd_targets.h"

namespace bitlane {
namespace {

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

struct CellCase {
  std::vector<float> x, r, c;  // x, r: [4H] pre-activation parts (i, f, g, o); c: [H]
};

CellCase random_case(int64_t hidden, float scale, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-scale, scale), unit(-1.f, 1.f);
  CellCase k;
  for (int64_t j = 0; j < 4 * hidden; ++j) {
    k.x.push_back(u(g));
    k.r.push_back(u(g));
  }
  for (int64_t j = 0; j < hidden; ++j) k.c.push_back(3 * unit(g));
  return k;
}

}  // namespace

TEST_CASE("lstm cell: within 1e-6 of the equations in double on every target, tails and saturation included") {
  // The cell's exponential has ~1 ulp error, its sigmoid and tanh a few ulp
  // of 1 (tanh near 0 absolute, not relative: 1 - 2 / (1 + e^2z)); the
  // bounds leave room for c's and h's own float roundings on top.
  constexpr double kC = 1e-6, kH = 6e-7;
  test::for_each_simd_target([&](const std::string&) {
    double worst_c = 0, worst_h = 0;
    for (const int64_t hidden : {1, 37, 261})  // 261: past the cell's block of 256 units
      for (const float scale : {1e-3f, 0.5f, 4.f, 30.f, 200.f, 1e30f}) {
        CellCase k = random_case(hidden, scale, static_cast<uint32_t>(hidden * 7 + 1));
        if (scale == 1e30f) k.x[0] = std::numeric_limits<float>::infinity(), k.x[2 * hidden] = -k.x[0];
        std::vector<float> c = k.c, h(static_cast<size_t>(hidden));
        ops::detail::lstm_cell(k.x.data(), k.r.data(), c.data(), h.data(), hidden);
        for (int64_t j = 0; j < hidden; ++j) {
          auto z = [&](int gate) {
            const size_t at = static_cast<size_t>(gate * hidden + j);
            return static_cast<double>(k.x[at] + k.r[at]);  // the cell adds the parts in float
          };
          const size_t u = static_cast<size_t>(j);
          const double cn = sigmoid(z(1)) * k.c[u] + sigmoid(z(0)) * std::tanh(z(2));
          const double hn = sigmoid(z(3)) * std::tanh(static_cast<double>(c[u]));
          worst_c = std::max(worst_c, std::abs(c[u] - cn) / std::max(1.0, std::abs(cn)));
          worst_h = std::max(worst_h, std::abs(h[u] - hn));
        }
      }
    INFO("worst c error " << worst_c << ", worst h error " << worst_h);
    CHECK(worst_c < kC);
    CHECK(worst_h < kH);
  });
}

TEST_CASE("lstm cell: exact where the equations are, and each unit's result independent of where it sits") {
  test::for_each_simd_target([&](const std::string&) {
    // Zero pre-activations: every sigmoid is 1/2 and tanh 0 exactly, so
    // c' = c / 2 and h = tanh(c / 2) / 2.
    const int64_t hidden = 19;
    CellCase k = random_case(hidden, 1.f, 5);
    std::fill(k.x.begin(), k.x.end(), 0.f);
    std::fill(k.r.begin(), k.r.end(), 0.f);
    std::vector<float> c = k.c, h(static_cast<size_t>(hidden));
    ops::detail::lstm_cell(k.x.data(), k.r.data(), c.data(), h.data(), hidden);
    for (size_t j = 0; j < static_cast<size_t>(hidden); ++j) {
      CHECK(c[j] == k.c[j] / 2);
      CHECK(std::abs(h[j] - std::tanh(static_cast<double>(k.c[j]) / 2) / 2) < 3e-7);
    }
    // Unit j of a row of 37 (a tail on every target) against the same
    // unit alone in a row of 1: the same bits.
    const int64_t wide = 37;
    const CellCase w = random_case(wide, 6.f, 9);
    std::vector<float> cw = w.c, hw(static_cast<size_t>(wide));
    ops::detail::lstm_cell(w.x.data(), w.r.data(), cw.data(), hw.data(), wide);
    for (int64_t j = 0; j < wide; ++j) {
      float x1[4], r1[4], c1 = w.c[static_cast<size_t>(j)], h1 = 0;
      for (int gate = 0; gate < 4; ++gate) {
        x1[gate] = w.x[static_cast<size_t>(gate * wide + j)];
        r1[gate] = w.r[static_cast<size_t>(gate * wide + j)];
      }
      ops::detail::lstm_cell(x1, r1, &c1, &h1, 1);
      CAPTURE(j);
      CHECK(std::memcmp(&c1, &cw[static_cast<size_t>(j)], 4) == 0);
      CHECK(std::memcmp(&h1, &hw[static_cast<size_t>(j)], 4) == 0);
    }
  });
}

}  // namespace bitlane
