// The per-target float quantizers (quant/quantize_kernels.h) against the
// definition q = clamp(round_half_even((x / scale + offset) * half), lo, hi)
// written out as a loop, on every SIMD target; and the calibration methods
// (quant/calibration.h) against worked examples and a brute-force search.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quant/calibration.h"
#include "quant/uniform.h"
#include "tests/simd_targets.h"

using namespace bitlane;
using namespace bitlane::quant;

namespace {

// The definition, one value at a time.
int32_t reference_quantize(float x, const Affine& a) {
  const float g = (x * (1.f / a.scale) + static_cast<float>(a.offset)) * (a.mul == 2 ? 0.5f : 1.f);
  return static_cast<int32_t>(std::clamp(std::nearbyint(g), static_cast<float>(a.lowest()),
                                         static_cast<float>(a.highest())));
}

// Inputs that probe rounding ties, clamping at both ends and zero.
std::vector<float> probe_inputs(const Affine& a, size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> wide(-3.f, 3.f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    switch (i % 5) {
      case 0: x[i] = wide(rng) * a.scale * static_cast<float>(a.highest() + 2); break;  // beyond the grid
      case 1: x[i] = a.scale * (static_cast<float>(rng() % 64) - 32.f + 0.5f); break;  // exact ties
      case 2: x[i] = i % 2 ? 0.f : -0.f; break;
      default: x[i] = wide(rng) * a.scale * static_cast<float>(a.highest()) / 3.f;
    }
  }
  return x;
}

}  // namespace

TEST_CASE("quantizers: every target equals the definition for bytes and 16-bit words") {
  const std::vector<Affine> grids = {
      activation_affine(0.f, 4.f, 4, false),    // unsigned 4-bit
      activation_affine(-2.f, 3.f, 8, true),    // signed symmetric 8-bit
      activation_affine(-1.f, 3.f, 8, false),   // unsigned with a zero point
      activation_affine(-1.f, 1.f, 1, true),    // binary: mul 2
      activation_affine(-5.f, 5.f, 12, true),   // 12-bit signed (int16 storage)
  };
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(8);
    for (const Affine& a : grids)
      for (size_t n : {1, 3, 8, 15, 16, 17, 33, 64, 129, 1000}) {
        CAPTURE(a.format.to_string());
        CAPTURE(n);
        const std::vector<float> x = probe_inputs(a, n, rng);
        std::vector<int16_t> q16(n);
        quantize(x.data(), static_cast<int64_t>(n), a, q16.data());
        for (size_t i = 0; i < n; ++i) REQUIRE(q16[i] == reference_quantize(x[i], a));
        if (a.format.bits > 8) continue;
        if (a.format.is_signed) {
          std::vector<int8_t> q8(n);
          quantize(x.data(), static_cast<int64_t>(n), a, q8.data());
          for (size_t i = 0; i < n; ++i) REQUIRE(q8[i] == reference_quantize(x[i], a));
        } else {
          std::vector<uint8_t> u8(n);
          quantize(x.data(), static_cast<int64_t>(n), a, u8.data());
          for (size_t i = 0; i < n; ++i) REQUIRE(u8[i] == reference_quantize(x[i], a));
        }
      }
  });
}

TEST_CASE("calibration: min/max and percentile ranges, worked by hand") {
  RangeStats pos, sym;
  std::vector<float> up(1000), mid(1000);
  for (int i = 0; i < 1000; ++i) up[static_cast<size_t>(i)] = static_cast<float>(i);         // 0..999
  for (int i = 0; i < 1000; ++i) mid[static_cast<size_t>(i)] = static_cast<float>(i - 500);  // -500..499
  pos.add(up.data(), 1000);
  sym.add(mid.data(), 1000);
  LayerPlan p = QuantPlan::from_text("8", {}).defaults;
  CHECK(pos.choose(p) == std::pair<float, float>{0.f, 999.f});
  CHECK(sym.choose(p) == std::pair<float, float>{-500.f, 499.f});
  // Percentile 99 over 1000 sorted samples: index floor(0.99 * 999) = 989 at
  // the top, floor(0.01 * 999) = 9 at the bottom; ranges always include 0.
  p = QuantPlan::from_text("8,calib=percentile", {}).defaults;
  p.percentile = 99;
  CHECK(pos.choose(p) == std::pair<float, float>{0.f, 989.f});
  CHECK(sym.choose(p) == std::pair<float, float>{-491.f, 489.f});
}

TEST_CASE("calibration: the MSE range is the best of the shrink grid, found by brute force") {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const char* spec : {"w8a4,calib=mse", "w8a3,calib=mse"}) {
    for (bool with_negatives : {false, true}) {
      CAPTURE(spec);
      CAPTURE(with_negatives);
      const LayerPlan p = QuantPlan::from_text(spec, {}).defaults;
      std::vector<float> x(4000);
      for (auto& v : x) v = with_negatives ? normal(rng) : std::abs(normal(rng));
      x[17] = 40.f;  // one outlier that min/max would have to cover
      RangeStats stats;
      stats.add(x.data(), static_cast<int64_t>(x.size()));
      // Brute force: every shrink factor 1.00 .. 0.05 of the min/max range,
      // scored with the public quantizer and dequantizer.
      const float lo = std::min(stats.min(), 0.f), hi = std::max(stats.max(), 0.f);
      double best = std::numeric_limits<double>::infinity();
      std::pair<float, float> want;
      for (int i = 100; i >= 5; --i) {
        const float f = static_cast<float>(i) / 100.f;
        const Affine a = activation_affine(lo * f, hi * f, p.activation_bits, p.activation_symmetric);
        std::vector<int16_t> q(x.size());
        quantize(x.data(), static_cast<int64_t>(x.size()), a, q.data());
        double err = 0;
        for (size_t j = 0; j < x.size(); ++j) {
          const double d = static_cast<double>(x[j]) - dequantize(q[j], a);
          err += d * d;
        }
        if (err / static_cast<double>(x.size()) < best) {
          best = err / static_cast<double>(x.size());
          want = {lo * f, hi * f};
        }
      }
      const auto got = stats.choose(p);
      CHECK(got.first == want.first);
      CHECK(got.second == want.second);
      CHECK(got.second < hi / 2);  // the outlier is clipped
    }
  }
}

TEST_CASE("calibration: statistics stay exact and the sample stays even past its cap") {
  // 3 x 2^20 values 0, 1, 2, ...: min and max exact; the kept sample halves
  // its density each time it fills, so it stays evenly strided.
  RangeStats s;
  const int64_t n = 3 * RangeStats::kMaxSamples;
  std::vector<float> chunk(65536);
  for (int64_t start = 0; start < n; start += static_cast<int64_t>(chunk.size())) {
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<float>(start + static_cast<int64_t>(i));
    s.add(chunk.data(), static_cast<int64_t>(chunk.size()));
  }
  CHECK(s.count() == n);
  CHECK(s.min() == 0.f);
  CHECK(s.max() == static_cast<float>(n - 1));
  const auto& sample = s.samples();
  REQUIRE(sample.size() > 1000);
  CHECK(static_cast<int64_t>(sample.size()) < RangeStats::kMaxSamples);
  const float step = sample[1] - sample[0];
  CHECK(step >= 2.f);
  for (size_t i = 1; i < sample.size(); ++i) REQUIRE(sample[i] - sample[i - 1] == step);
}

namespace {

// RangeStats::add as first written: one value at a time.
struct SequentialStats {
  float min = 0, max = 0;
  int64_t count = 0, stride = 1, phase = 0;
  std::vector<float> samples;
  void add(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      if (count == 0) min = max = v;
      min = std::min(min, v);
      max = std::max(max, v);
      ++count;
      if (++phase >= stride) {
        phase = 0;
        samples.push_back(v);
        if (static_cast<int64_t>(samples.size()) >= RangeStats::kMaxSamples) {
          for (size_t j = 0; j < samples.size() / 2; ++j) samples[j] = samples[2 * j + 1];
          samples.resize(samples.size() / 2);
          stride *= 2;
        }
      }
    }
  }
};

}  // namespace

TEST_CASE("calibration: statistics added in chunks of any size equal adding values one at a time") {
  std::mt19937 rng(11);
  std::normal_distribution<float> value(0.5f, 2.f);
  // Chunk sizes around the 16 lanes, single values, and large chunks that
  // fill the sample (2^20 values) several times over.
  const std::vector<int64_t> sizes = {0, 40, 1, 15, 16, 17, 31, 33, 1000, 65537, 700001, 3, 1 << 20, 999999, 5, 2 << 20};
  for (bool nan_first : {false, true}) {
    RangeStats s, unsampled(false);
    SequentialStats ref;
    for (size_t c = 0; c < sizes.size(); ++c) {
      std::vector<float> x(static_cast<size_t>(sizes[c]));
      for (float& v : x) v = value(rng);
      if (x.size() >= 40 && c % 4 == 1) {
        // A NaN (skipped) as the last value of a lane whose new minimum came
        // just before it: a lane that took the NaN would lose the minimum.
        const size_t last_block = x.size() / 16 * 16 - 1;
        x[last_block - 16] = -50.f - static_cast<float>(c);
        x[last_block] = std::numeric_limits<float>::quiet_NaN();
      }
      if (!x.empty() && c % 3 == 2) x.back() = -100.f - static_cast<float>(c);  // a new minimum at a tail
      if (nan_first && c == 1) x[0] = std::numeric_limits<float>::quiet_NaN();  // the first value: NaN stays
      s.add(x.data(), sizes[c]);
      unsampled.add(x.data(), sizes[c]);
      ref.add(x.data(), sizes[c]);
      INFO("after chunk " << c << " of " << sizes[c] << " values");
      CHECK(s.count() == ref.count);
      auto same = [](float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); };
      CHECK(same(s.min(), ref.min));
      CHECK(same(s.max(), ref.max));
      CHECK(std::isnan(s.min()) == (nan_first && c >= 1));
      // Without a sample: the same min, max and count, nothing kept.
      CHECK(same(unsampled.min(), ref.min));
      CHECK(same(unsampled.max(), ref.max));
      CHECK(unsampled.count() == ref.count);
      CHECK(unsampled.samples().empty());
      REQUIRE(s.samples().size() == ref.samples.size());
      if (!ref.samples.empty())  // (memcmp of two empty vectors' null data is undefined)
        CHECK(std::memcmp(s.samples().data(), ref.samples.data(), ref.samples.size() * sizeof(float)) == 0);
    }
    CHECK(ref.stride >= 8);  // the sample was halved on the way
  }
}

TEST_CASE("calibration: min and max are the same on every SIMD target, NaNs skipped in every lane") {
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(12);
    std::normal_distribution<float> value(0.f, 3.f);
    std::uniform_int_distribution<int> coin(0, 9);
    RangeStats s(false);
    SequentialStats ref;
    // Chunks around the 16 lanes and the 4-lane vectors inside them.
    for (int64_t n : {1, 4, 15, 16, 17, 20, 47, 48, 49, 1000, 4099}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (float& v : x) {
        const int c = coin(rng);
        v = c == 0 ? std::numeric_limits<float>::quiet_NaN() : c == 1 ? 0.f : value(rng);
      }
      if (ref.count == 0) x[0] = 1.f;  // (a NaN first would stay: below)
      if (n > 20) x[static_cast<size_t>(n / 2)] = -1000.f - static_cast<float>(n);  // a new minimum mid-chunk
      if (n > 20) x[static_cast<size_t>(n / 3)] = 1000.f + static_cast<float>(n);   // and maximum
      s.add(x.data(), n);
      ref.add(x.data(), n);
      CAPTURE(n);
      REQUIRE(s.min() == ref.min);
      REQUIRE(s.max() == ref.max);
    }
    // The first value NaN: it stays, in every lane.
    RangeStats t(false);
    std::vector<float> y(100, 1.f);
    y[0] = std::numeric_limits<float>::quiet_NaN();
    t.add(y.data(), 100);
    CHECK(std::isnan(t.min()));
    CHECK(std::isnan(t.max()));
  });
}
