// DNA-TEQ exponential quantization and SDP part selection against
// hand-worked cases, their definitions, and each other's execution paths.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/exponential.h"
#include "quant/sdp.h"

using namespace bitlane::quant;

TEST_CASE("exponential codes: levels, nearest level, zero, signs") {
  ExpParams p;
  p.base = 2.0;
  p.alpha = 1.0;
  p.beta = 0.0;
  p.bits = 3;  // 3 levels per sign: 2^-2, 2^-1, 2^0
  CHECK(p.levels() == 3);
  CHECK(p.e_min() == -2);
  CHECK(exp_decode(exp_encode(1.0f, p), p) == 1.0f);
  CHECK(exp_decode(exp_encode(-0.5f, p), p) == -0.5f);
  CHECK(exp_decode(exp_encode(0.3f, p), p) == 0.25f);   // 0.3 is nearer 0.25 than 0.5
  CHECK(exp_decode(exp_encode(0.4f, p), p) == 0.5f);
  CHECK(exp_decode(exp_encode(7.0f, p), p) == 1.0f);    // saturates at the top level
  CHECK(exp_encode(0.1f, p) == 0);                      // below half the lowest level
  CHECK(exp_encode(0.f, p) == 0);
  // Every level decodes to itself; codes of a sign are ordered.
  p.alpha = 0.7;
  p.beta = 0.05;
  p.base = 1.3;
  p.bits = 5;
  for (int e = p.e_min(); e <= 0; ++e) {
    const float v = static_cast<float>(p.level(e));
    CHECK(exp_decode(exp_encode(v, p), p) == doctest::Approx(v));
    CHECK(exp_encode(-v, p) == -exp_encode(v, p));
  }
}

TEST_CASE("fit and search recover an exponential distribution and pick the smallest width") {
  // Samples exactly on a base-1.5 grid with alpha 2, beta 0.1, 4-bit window.
  ExpParams truth;
  truth.base = 1.5;
  truth.alpha = 2.0;
  truth.beta = 0.1;
  truth.bits = 4;
  std::mt19937 rng(1);
  std::vector<float> w, x;
  for (int i = 0; i < 2000; ++i) {
    const int e = truth.e_min() + static_cast<int>(rng() % static_cast<unsigned>(truth.levels()));
    w.push_back(static_cast<float>((i % 2 ? -1 : 1) * truth.level(e)));
    x.push_back(static_cast<float>(truth.level(truth.e_min() + static_cast<int>(rng() % 7))));
  }
  const ExpParams fit = fit_exponential(w, 1.5, 4);
  CHECK(fit.alpha == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(fit.beta == doctest::Approx(0.1).epsilon(1e-6));
  CHECK(exp_error(w, fit) < 1e-12);
  const ExpSearch s = search_exponential(w, x, 1e-6, 2, 8);
  CHECK(s.weights.bits == 4);  // 3 bits cannot hold 7 levels exactly
  CHECK(s.weights.base == doctest::Approx(1.5));
  CHECK(s.weight_error <= 1e-6);
  CHECK_THROWS_AS(fit_exponential(w, 1.0, 4), bitlane::Error);
  CHECK_THROWS_AS(search_exponential(w, x, 0.01, 1, 4), bitlane::Error);
}

TEST_CASE("the exponent-domain dot product equals the decoded-value dot product") {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 1.f);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 300);
    std::vector<float> w(static_cast<size_t>(n)), x(w.size());
    for (auto& v : w) v = d(rng);
    for (auto& v : x) v = std::abs(d(rng)) * (trial % 3 ? 1.f : -1.f);
    const ExpSearch s = search_exponential(w, x, 0.05, 3, 6);
    std::vector<int16_t> cw(w.size()), cx(w.size());
    double want = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      cw[i] = exp_encode(w[i], s.weights);
      cx[i] = exp_encode(x[i], s.activations);
      want += static_cast<double>(exp_decode(cw[i], s.weights)) * exp_decode(cx[i], s.activations);
    }
    const double got = exp_dot(cw, s.weights, cx, s.activations);
    REQUIRE(got == doctest::Approx(want).epsilon(1e-5).scale(1.0));
  }
}

TEST_CASE("SDP keeps the K largest parts of each group") {
  // 0x53 = 83 -> H 5 (80), L 3; 0x0F -> L 15; 0x21 = 33 -> H 2 (32), L 1; 0.
  const int32_t v[] = {83, 15, -33, 0};
  int32_t out[4];
  CHECK(sdp_group(v, 1, out) == 1);
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{80, 0, 0, 0});
  sdp_group(v, 2, out);  // 80, then 32 (any H outranks any L)
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{80, 0, -32, 0});
  sdp_group(v, 3, out);  // then L 15
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{80, 15, -32, 0});
  CHECK(sdp_group(v, 5, out) == 5);  // all five non-zero parts: exact
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{83, 15, -33, 0});
  CHECK(sdp_group(v, 9, out) == 5);
  CHECK(drq_low(7) == 0);
  CHECK(drq_low(8) == 16);
  CHECK(drq_low(255) == 240);
  std::mt19937 rng(2);
  for (int t = 0; t < 2000; ++t) {  // invariants
    std::vector<int32_t> g(8), o(8);
    int nonzero = 0;
    for (auto& x : g) {
      x = static_cast<int32_t>(rng() % 256) * (rng() % 2 ? 1 : -1);
      nonzero += ((std::abs(x) >> 4) != 0) + ((std::abs(x) & 15) != 0);
    }
    const int k = static_cast<int>(rng() % 18);
    const int kept = sdp_group(g, k, o);
    CHECK(kept == std::min(k, nonzero));
    if (k >= nonzero) CHECK(o == g);
  }
}
