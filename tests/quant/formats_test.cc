// DNA-TEQ exponential quantization and SDP part selection against
// hand-worked cases, their definitions, and each other's execution paths.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/exponential.h"
#include "quant/drq.h"
#include "quant/sdp.h"
#include "quant/drq_kernels.h"
#include "quant/sdp_kernels.h"
#include "swar/targets.h"
#include "tests/simd_targets.h"

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

TEST_CASE("SDP: the in-place run-time truncation equals the sorted reference") {
  std::mt19937 rng(5);
  auto check = [&](auto type_tag, int lo, int hi, int n, int t) {
    using T = decltype(type_tag);
    std::vector<int32_t> g(static_cast<size_t>(n)), want(static_cast<size_t>(n));
    std::vector<T> fast(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      // Many ties: values from a small set half of the time.
      const int v = rng() % 2 ? lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1))
                              : std::clamp(static_cast<int>(rng() % 4) * 17 * (lo < 0 && rng() % 2 ? -1 : 1), lo, hi);
      g[static_cast<size_t>(i)] = v;
      fast[static_cast<size_t>(i)] = static_cast<T>(v);
    }
    const int k = static_cast<int>(rng() % static_cast<unsigned>(2 * n + 2));
    const int kept_ref = sdp_group(g, k, want);
    const int kept = sdp_truncate(fast.data(), n, k);
    INFO("trial " << t << " n " << n << " k " << k);
    CHECK(kept == kept_ref);
    CHECK(std::vector<int32_t>(fast.begin(), fast.end()) == want);
  };
  for (int t = 0; t < 3000; ++t) {
    const int n = 1 + static_cast<int>(rng() % 9);
    check(uint8_t{}, 0, 255, n, t);
    check(int8_t{}, -127, 127, n, t);
    check(int16_t{}, -255, 255, n, t);
  }
  for (int t = 0; t < 50; ++t) check(int16_t{}, -255, 255, 60 + static_cast<int>(rng() % 10), t);  // wide groups
}

TEST_CASE("SDP: the vectorized groups of four equal the scalar truncation on every target") {
  std::mt19937 rng(9);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (int keep = 0; keep <= 9; ++keep) {
      const size_t groups = 97 + static_cast<size_t>(rng() % 200);  // tails on every vector width
      std::vector<uint8_t> u(groups * 4), u_ref;
      std::vector<int8_t> s(groups * 4), s_ref;
      std::vector<int16_t> w(groups * 4), w_ref;
      for (size_t i = 0; i < groups * 4; ++i) {
        const bool small = rng() % 3 == 0;  // ties and zeros
        u[i] = static_cast<uint8_t>(small ? (rng() % 3) * 16 + rng() % 2 : rng() % 256);
        s[i] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
        w[i] = static_cast<int16_t>(small ? 0 : static_cast<int>(rng() % 511) - 255);
      }
      u_ref = u, s_ref = s, w_ref = w;
      for (size_t g = 0; g < groups; ++g) {
        sdp_truncate(u_ref.data() + 4 * g, 4, keep);
        sdp_truncate(s_ref.data() + 4 * g, 4, keep);
        sdp_truncate(w_ref.data() + 4 * g, 4, keep);
      }
      bitlane::quant::detail::sdp_groups4(u.data(), groups, keep);
      bitlane::quant::detail::sdp_groups4(s.data(), groups, keep);
      bitlane::quant::detail::sdp_groups4(w.data(), groups, keep);
      INFO("keep " << keep);
      CHECK(u == u_ref);
      CHECK(s == s_ref);
      CHECK(w == w_ref);
    }
  });
}

TEST_CASE("exponential: the tabulated codec equals exp_encode / exp_decode") {
  std::mt19937 rng(4);
  for (int bits : {2, 3, 5, 8, 12}) {
    for (double base : {1.05, 1.5, 2.0}) {
      ExpParams p;
      p.base = base;
      p.bits = bits;
      p.alpha = 0.7;
      p.beta = rng() % 2 ? 0.01 : -0.002;
      const ExpCodec codec(p);
      std::vector<float> xs = {0.f, -0.f, 1e-30f, 1e30f, -1e30f, std::nanf(""), INFINITY, -INFINITY};
      for (int e = p.e_min(); e <= 0; ++e) {  // levels, midpoints and their neighbours
        const double lv = p.level(e), next = e < 0 ? p.level(e + 1) : lv * 2;
        for (double v : {lv, (lv + next) / 2, lv / 2})
          for (float f : {static_cast<float>(v), std::nextafter(static_cast<float>(v), 0.f),
                          std::nextafter(static_cast<float>(v), 1e30f)})
            xs.push_back(f), xs.push_back(-f);
      }
      std::uniform_real_distribution<float> d(-1.5f, 1.5f);
      for (int i = 0; i < 2000; ++i) xs.push_back(d(rng));
      for (float x : xs) {
        INFO("bits " << bits << " base " << base << " x " << x);
        const int16_t c = exp_encode(x, p);
        REQUIRE(codec.encode(x) == c);
        REQUIRE(codec.decode(c) == exp_decode(c, p));
      }
      bitlane::test::for_each_simd_target([&](const std::string&) {  // the vector path, whole arrays
        std::vector<float> values(xs.size());
        std::vector<int16_t> codes(xs.size());
        codec.encode_decode(xs.data(), xs.size(), values.data(), codes.data());
        for (size_t i = 0; i < xs.size(); ++i) {
          INFO("bits " << bits << " base " << base << " x " << xs[i]);
          const int16_t c = exp_encode(xs[i], p);
          REQUIRE(codes[i] == c);
          REQUIRE(std::bit_cast<uint32_t>(values[i]) == std::bit_cast<uint32_t>(exp_decode(c, p)));
        }
      });
    }
  }
}

TEST_CASE("DRQ: the vectorized regions of four equal the scalar rule on every target") {
  std::mt19937 rng(23);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (int64_t min_sum : {0, 1, 64, 255, 256, 500, 1020, 1021}) {
      const size_t regions = 61 + static_cast<size_t>(rng() % 300);
      std::vector<uint8_t> v(regions * 4);
      for (auto& x : v) x = static_cast<uint8_t>(rng() % 3 == 0 ? 0 : rng() % 256);
      std::vector<uint8_t> want = v;
      int64_t want_sensitive = 0;
      for (size_t r = 0; r < regions; ++r) {  // the rule, written out
        int64_t sum = 0;
        for (int i = 0; i < 4; ++i) sum += want[4 * r + static_cast<size_t>(i)];
        if (sum >= min_sum) {
          ++want_sensitive;
        } else {
          for (int i = 0; i < 4; ++i) {
            uint8_t& q = want[4 * r + static_cast<size_t>(i)];
            q = static_cast<uint8_t>(std::min((q + 8) / 16 * 16, 240));
          }
        }
      }
      const int64_t sensitive = bitlane::quant::detail::drq_regions4(v.data(), regions, min_sum);
      INFO("min_sum " << min_sum);
      CHECK(sensitive == want_sensitive);
      CHECK(v == want);
    }
  });
}
