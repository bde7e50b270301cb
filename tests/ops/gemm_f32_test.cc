// The fp32 GEMM (ops/kernels/gemm_f32.h) on every SIMD target against the
// definition: each output a chain over K in increasing order, then the bias.
// Targets with FMA fuse each step, the others multiply then add; a target
// must match one of the two chains bit for bit in every output. Results do
// not depend on the thread count.
#include <doctest/doctest.h>

#include <cmath>
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
