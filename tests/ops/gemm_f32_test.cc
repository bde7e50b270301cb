// The fp32 GEMM (ops/kernels/gemm_f32.h) on every SIMD target against the
// definition: each output a chain over K in increasing order, then the bias.
// Targets with FMA fuse each step, the others multiply then add; a target
// must match one of the two chains bit for bit in every output. Results do
// not depend on the thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/executor.h"
#include "ops/kernels/gemm_f32.h"
#include "tests/simd_targets.h"

using namespace bitlane;

namespace {

struct Chains {
  std::vector<float> fused, unfused;
};

Chains reference(const std::vector<float>& a, const std::vector<float>& w, const std::vector<float>& bias,
                 int64_t m, int64_t k, int64_t n) {
  Chains c{std::vector<float>(static_cast<size_t>(m * n)), std::vector<float>(static_cast<size_t>(m * n))};
  for (int64_t r = 0; r < m; ++r)
    for (int64_t col = 0; col < n; ++col) {
      float f = 0.f, u = 0.f;
      for (int64_t i = 0; i < k; ++i) {
        const float x = a[static_cast<size_t>(r * k + i)], y = w[static_cast<size_t>(col * k + i)];
        f = std::fma(x, y, f);
        const float p = x * y;
        u = u + p;
      }
      const float b = bias.empty() ? 0.f : bias[static_cast<size_t>(col)];
      c.fused[static_cast<size_t>(r * n + col)] = f + b;
      c.unfused[static_cast<size_t>(r * n + col)] = u + b;
    }
  return c;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST_CASE("gemm_f32: every target equals the fused or the unfused chain, bit for bit") {
  const Executor one(1);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(21);
    for (int64_t m : {1, 3, 7, 16, 33})  // 16, 33: eight-row blocks of one vector (n <= lanes), then a tail
      for (int64_t k : {1, 17, 100})
        for (int64_t n : {1, 15, 16, 17, 70})
          for (bool with_bias : {false, true}) {
            CAPTURE(m);
            CAPTURE(k);
            CAPTURE(n);
            const auto a = random_floats(static_cast<size_t>(m * k), rng);
            const auto w = random_floats(static_cast<size_t>(n * k), rng);
            const auto bias = with_bias ? random_floats(static_cast<size_t>(n), rng) : std::vector<float>{};
            const ops::PackedF32 p = ops::PackedF32::pack(w.data(), n, k);
            std::vector<float> c(static_cast<size_t>(m * n), NAN);
            ops::gemm_f32(a.data(), m, k, p, with_bias ? bias.data() : nullptr, c.data(), n, one);
            const Chains want = reference(a, w, bias, m, k, n);
            const bool fused = c == want.fused, unfused = c == want.unfused;
            CHECK((fused || unfused));
          }
  });
}

TEST_CASE("gemm_f32: results are identical for 1 and 2 threads") {
  std::mt19937 rng(22);
  const int64_t m = 64, k = 256, n = 256;  // 4 M MACs: split into tasks
  const auto a = random_floats(static_cast<size_t>(m * k), rng);
  const auto w = random_floats(static_cast<size_t>(n * k), rng);
  const ops::PackedF32 p = ops::PackedF32::pack(w.data(), n, k);
  std::vector<float> c1(static_cast<size_t>(m * n)), c2(c1.size());
  ops::gemm_f32(a.data(), m, k, p, nullptr, c1.data(), n, Executor(1));
  ops::gemm_f32(a.data(), m, k, p, nullptr, c2.data(), n, Executor(2));
  CHECK(c1 == c2);
}

TEST_CASE("gemm_f32_gathered: every target equals gemm_f32 over the gathered matrix, bit for bit") {
  const Executor one(1);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(23);
    for (int64_t m : {1, 7, 8, 16, 33})  // 8, 16, 33: eight-row blocks when n fits one vector
      for (int64_t segments : {1, 3, 9})
        for (int64_t seg : {1, 4, 16})
          for (int64_t n : {5, 16, 40}) {
            CAPTURE(m);
            CAPTURE(segments);
            CAPTURE(seg);
            CAPTURE(n);
            const int64_t k = segments * seg;
            // Runs anywhere in a source buffer, overlapping and repeating,
            // as a convolution's patches do.
            const auto x = random_floats(static_cast<size_t>(64 + seg), rng);
            std::uniform_int_distribution<int64_t> at(0, 63);
            std::vector<int64_t> row_offset(static_cast<size_t>(m)), run_offset(static_cast<size_t>(segments));
            for (auto& o : row_offset) o = at(rng) / 2;
            for (auto& o : run_offset) o = at(rng) / 2;
            std::vector<float> a(static_cast<size_t>(m * k));
            for (int64_t r = 0; r < m; ++r)
              for (int64_t s = 0; s < segments; ++s) {
                const int64_t at_run = row_offset[static_cast<size_t>(r)] + run_offset[static_cast<size_t>(s)];
                for (int64_t i = 0; i < seg; ++i)
                  a[static_cast<size_t>(r * k + s * seg + i)] = x[static_cast<size_t>(at_run + i)];
              }
            const auto w = random_floats(static_cast<size_t>(n * k), rng);
            const auto bias = random_floats(static_cast<size_t>(n), rng);
            const ops::PackedF32 p = ops::PackedF32::pack(w.data(), n, k);
            std::vector<float> want(static_cast<size_t>(m * n), NAN), got(want.size(), NAN);
            ops::gemm_f32(a.data(), m, k, p, bias.data(), want.data(), n, one);
            ops::gemm_f32_gathered(x.data(), row_offset.data(), run_offset.data(), m, segments, p, bias.data(),
                                   got.data(), n, one);
            CHECK(got == want);
          }
  });
}

TEST_CASE("gemm_f32_gathered: runs must divide K") {
  const std::vector<float> w(12, 1.f), x(16, 1.f);
  const ops::PackedF32 p = ops::PackedF32::pack(w.data(), 2, 6);
  const std::vector<int64_t> offsets(4, 0);
  std::vector<float> c(2);
  CHECK_THROWS_WITH(ops::gemm_f32_gathered(x.data(), offsets.data(), offsets.data(), 1, 4, p, nullptr, c.data(), 2,
                                           Executor(1)),
                    doctest::Contains("4 runs do not divide K = 6"));
}

TEST_CASE("gemm_f32 epilogue: residual, then activation, as the scalar path on every target (NaN included)") {
  const Executor one(1);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(24);
    for (ops::Activation act : {ops::Activation::kNone, ops::Activation::kRelu, ops::Activation::kRelu6})
      for (int64_t n : {16, 21}) {  // a whole vector of columns, and a partial one
        CAPTURE(static_cast<int>(act));
        CAPTURE(n);
        const int64_t m = 9, k = 20, ld_res = n + 3;
        const auto a = random_floats(static_cast<size_t>(m * k), rng);
        const auto w = random_floats(static_cast<size_t>(n * k), rng);
        const auto bias = random_floats(static_cast<size_t>(n), rng);
        auto residual = random_floats(static_cast<size_t>(m * ld_res), rng);
        for (auto& r : residual) r *= 8.f;  // sums below 0 and above 6
        residual[5] = NAN;
        residual[static_cast<size_t>(2 * ld_res + 7)] = NAN;
        const ops::PackedF32 p = ops::PackedF32::pack(w.data(), n, k);
        std::vector<float> c(static_cast<size_t>(m * n), 0.f);
        ops::gemm_f32(a.data(), m, k, p, bias.data(), c.data(), n, one, {residual.data(), ld_res, act});
        const Chains sums = reference(a, w, bias, m, k, n);
        auto finish = [&](std::vector<float> y) {
          for (int64_t r = 0; r < m; ++r)
            for (int64_t col = 0; col < n; ++col) {
              float& v = y[static_cast<size_t>(r * n + col)];
              v = ops::apply_activation(act, v + residual[static_cast<size_t>(r * ld_res + col)]);
            }
          return y;
        };
        const auto same_bits = [](const std::vector<float>& x, const std::vector<float>& y) {
          return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
        };
        CHECK((same_bits(c, finish(sums.fused)) || same_bits(c, finish(sums.unfused))));
        if (act == ops::Activation::kRelu) CHECK(c[5] == 0.f);  // NaN -> 0
        if (act != ops::Activation::kRelu) CHECK(std::isnan(c[5]));
      }
  });
}
