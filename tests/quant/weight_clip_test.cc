// Uniform weight grids scaled by least squared error (wclip=mse,
// quant/uniform.cc) against a dense brute-force search and the closed form
// of the binary case, and the setting's plan forms and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/plan.h"
#include "quant/uniform.h"

using namespace bitlane;
using namespace bitlane::quant;

namespace {

// Rows of Gaussian weights, one outlier each (what max scaling has to cover).
std::vector<float> weights(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 0.05f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = normal(rng);
  for (int64_t r = 0; r < rows; ++r) w[static_cast<size_t>(r * cols + (r * 7) % cols)] = r % 2 ? 0.4f : -0.4f;
  return w;
}

// Squared error of rows [r0, r1) as quantized (q, affine per row).
double error_of(const std::vector<float>& w, const QuantizedWeights& qw, int64_t r0, int64_t r1) {
  double e = 0;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < qw.cols; ++c) {
      const size_t i = static_cast<size_t>(r * qw.cols + c);
      const double d = static_cast<double>(w[i]) - dequantize(qw.q[i], qw.affine[static_cast<size_t>(r)]);
      e += d * d;
    }
  return e;
}

// The least squared error of any grid the plan's scaling could take for rows
// [r0, r1): their min/max range times every factor 1 / steps .. 1, each grid
// built and applied by the public quantizer (a per-tensor plan on just
// these rows is the same grid for the row range).
double dense_best(const std::vector<float>& w, int64_t r0, int64_t r1, int64_t cols, LayerPlan plan,
                  int steps = 1000) {
  plan.weight_granularity = Granularity::kPerTensor;
  plan.get<UniformOptions>().weight_clip = WeightClip::kMax;
  const float* x = w.data() + r0 * cols;
  const size_t n = static_cast<size_t>((r1 - r0) * cols);
  const auto [lo_it, hi_it] = std::minmax_element(x, x + n);
  const float lo = std::min(*lo_it, 0.f), hi = std::max(*hi_it, 0.f);
  double best = std::numeric_limits<double>::infinity();
  std::vector<float> clipped(n);
  std::vector<int16_t> q(n);
  for (int i = steps; i >= 1; --i) {
    // The plan's own grid for the range [lo f, hi f]: that of the values
    // clipped to it; then the values themselves on that grid.
    const float f = static_cast<float>(i) / static_cast<float>(steps);
    for (size_t k = 0; k < n; ++k) clipped[k] = std::clamp(x[k], lo * f, hi * f);
    const Affine a = quantize_weights(clipped.data(), r1 - r0, cols, plan).affine[0];
    quantize(x, static_cast<int64_t>(n), a, q.data());
    double e = 0;
    for (size_t k = 0; k < n; ++k) {
      const double d = static_cast<double>(x[k]) - dequantize(q[k], a);
      e += d * d;
    }
    best = std::min(best, e);
  }
  return best;
}

}  // namespace

TEST_CASE("weight clipping: the mse grid is within 1% of the best of a dense search, never worse than max") {
  const int64_t rows = 6, cols = 300;
  const std::vector<float> w = weights(rows, cols, 5);
  for (const char* spec : {"w1a8", "w2a8", "w3a8", "w4a8", "w6a8", "w2a8,weight_symmetric=false",
                           "w3a8,granularity=per_tensor", "w2a8,granularity=per_tensor,weight_symmetric=false"}) {
    CAPTURE(spec);
    const LayerPlan max_plan = QuantPlan::from_text(spec, {}).defaults;
    const LayerPlan mse_plan = QuantPlan::from_text(std::string(spec) + ",wclip=mse", {}).defaults;
    const QuantizedWeights by_max = quantize_weights(w.data(), rows, cols, max_plan);
    const QuantizedWeights by_mse = quantize_weights(w.data(), rows, cols, mse_plan);
    const bool per_channel = max_plan.weight_granularity == Granularity::kPerChannel;
    for (int64_t r0 = 0; r0 < rows; r0 += per_channel ? 1 : rows) {
      const int64_t r1 = per_channel ? r0 + 1 : rows;
      CAPTURE(r0);
      const double got = error_of(w, by_mse, r0, r1), dense = dense_best(w, r0, r1, cols, max_plan);
      CHECK(got <= error_of(w, by_max, r0, r1));
      CHECK(got <= dense * 1.01);
      // and q, row sums, formats consistent with the grid
      for (int64_t r = r0; r < r1; ++r) {
        int64_t sum = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const int16_t q = by_mse.q[static_cast<size_t>(r * cols + c)];
          const Affine& a = by_mse.affine[static_cast<size_t>(r)];
          CHECK(q >= a.lowest());
          CHECK(q <= a.highest());
          sum += q;
        }
        CHECK(sum == by_mse.row_sum[static_cast<size_t>(r)]);
      }
    }
    CHECK(by_mse.format == by_max.format);
  }
}

TEST_CASE("weight clipping: a tensor past the search's sample still gets a grid near the best") {
  // 120000 values in one grid: the search scores an evenly strided sample of
  // 65536 of them; its choice is scored here on all of them.
  const int64_t rows = 300, cols = 400;
  const std::vector<float> w = weights(rows, cols, 21);
  for (const char* spec : {"w2a8,granularity=per_tensor", "w4a8,granularity=per_tensor"}) {
    CAPTURE(spec);
    const LayerPlan max_plan = QuantPlan::from_text(spec, {}).defaults;
    const QuantizedWeights by_mse =
        quantize_weights(w.data(), rows, cols, QuantPlan::from_text(std::string(spec) + ",wclip=mse", {}).defaults);
    const double got = error_of(w, by_mse, 0, rows);
    CHECK(got <= error_of(w, quantize_weights(w.data(), rows, cols, max_plan), 0, rows));
    CHECK(got <= dense_best(w, 0, rows, cols, max_plan, 200) * 1.02);
  }
}

TEST_CASE("weight clipping: max keeps the grid at the largest |w|, a 2-bit grid then zeroes most weights") {
  const int64_t rows = 4, cols = 400;
  const std::vector<float> w = weights(rows, cols, 9);
  const QuantizedWeights by_max = quantize_weights(w.data(), rows, cols, QuantPlan::from_text("w2a8", {}).defaults);
  const QuantizedWeights by_mse =
      quantize_weights(w.data(), rows, cols, QuantPlan::from_text("w2a8,wclip=mse", {}).defaults);
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::abs(w[static_cast<size_t>(r * cols + c)]));
    CHECK(by_max.affine[static_cast<size_t>(r)].scale == m);  // {-2, -1, 0, 1} x max|w|
    int64_t zeros_max = 0, zeros_mse = 0;
    for (int64_t c = 0; c < cols; ++c) {
      zeros_max += by_max.q[static_cast<size_t>(r * cols + c)] == 0;
      zeros_mse += by_mse.q[static_cast<size_t>(r * cols + c)] == 0;
    }
    // Gaussian weights with sigma 0.05 under an outlier of 0.4: |w| < 0.2 is
    // all but a handful; the clipped grid keeps most of them non-zero.
    CHECK(zeros_max > cols * 9 / 10);
    CHECK(zeros_mse < cols / 2);
  }
}

TEST_CASE("weight clipping: binary weights take the least-squares scale, mean |w|") {
  // For q in {-s, +s} by sign, the squared error is least at s = mean |w|.
  const int64_t rows = 5, cols = 512;
  const std::vector<float> w = weights(rows, cols, 3);
  const QuantizedWeights qw =
      quantize_weights(w.data(), rows, cols, QuantPlan::from_text("w1a8,wclip=mse", {}).defaults);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0;
    float m = 0;
    for (int64_t c = 0; c < cols; ++c) {
      mean += std::abs(w[static_cast<size_t>(r * cols + c)]);
      m = std::max(m, std::abs(w[static_cast<size_t>(r * cols + c)]));
    }
    mean /= static_cast<double>(cols);
    // The search steps by 1% of max |w|: within half a step of the optimum.
    CHECK(std::abs(qw.affine[static_cast<size_t>(r)].scale - mean) <= 0.006 * m);
  }
}

TEST_CASE("weight clipping: the plan forms, and the plans it does not apply to") {
  const QuantPlan p = QuantPlan::from_text("w2a4,wclip=mse", {});
  CHECK(p.defaults.get<UniformOptions>().weight_clip == WeightClip::kMse);
  CHECK(p.defaults.to_string().find("wclip=mse") != std::string::npos);
  const nlohmann::json j = p.to_json();
  CHECK(j.dump().find("\"weight_clip\":\"mse\"") != std::string::npos);
  CHECK(QuantPlan::from_json(j, "test").defaults == p.defaults);
  // Max is the default and is not written out.
  CHECK(QuantPlan::from_text("w2a4", {}).to_json().dump().find("weight_clip") == std::string::npos);
  CHECK(QuantPlan::from_text("w2a4,wclip=max", {}).defaults == QuantPlan::from_text("w2a4", {}).defaults);
  CHECK_THROWS_WITH_AS(QuantPlan::from_text("w2a4,wclip=median", {}), doctest::Contains("max or mse"), Error);
  // Term plans scale their own grid (quant/schemes/term.cc): the key is not theirs.
  CHECK_THROWS_AS(QuantPlan::from_text("scheme=term,w4a6,wclip=mse", {}), Error);
}
