#include "quant/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/quantize_kernels.h"
#include "quant/uniform.h"

namespace bitlane::quant {

// The same min, max and sample as adding the values one by one (each value
// compared with `v < m ? v : m`, each stride_-th one kept), in two passes:
// min/max in 16 independent lanes (vector code, quantize_kernels.cc), then
// the kept values picked by index. One value at a time was most of building
// a quantized engine (~0.6 s of ResNet's calibration).
void RangeStats::add(const float* x, int64_t n) {
  if (n <= 0) return;
  if (count_ == 0) min_ = max_ = x[0];
  constexpr int kLanes = 16;
  float lo[kLanes], hi[kLanes];
  for (int l = 0; l < kLanes; ++l) lo[l] = min_, hi[l] = max_;
  int64_t i = n / kLanes * kLanes;
  detail::min_max_16_lanes(x, i, lo, hi);
  for (; i < n; ++i) {
    lo[0] = x[i] < lo[0] ? x[i] : lo[0];
    hi[0] = hi[0] < x[i] ? x[i] : hi[0];
  }
  // A NaN stays only where it started (a first value of NaN), as before.
  for (int l = 0; l < kLanes; ++l) {
    min_ = lo[l] < min_ ? lo[l] : min_;
    max_ = max_ < hi[l] ? hi[l] : max_;
  }
  count_ += n;
  if (!keep_sample_) return;
  // The next kept value is the one that brings phase_ up to stride_.
  int64_t next = stride_ - phase_ - 1, last = -1;
  while (next < n) {
    samples_.push_back(x[next]);
    last = next;
    if (static_cast<int64_t>(samples_.size()) >= kMaxSamples) {
      // Halve the sample and keep every other value from now on. The odd
      // positions are kept, so the value just taken stays and the next one,
      // 2 x stride later, continues the even spacing.
      for (size_t j = 0; j < samples_.size() / 2; ++j) samples_[j] = samples_[2 * j + 1];
      samples_.resize(samples_.size() / 2);
      stride_ *= 2;
    }
    next += stride_;
  }
  phase_ = last < 0 ? phase_ + n : n - 1 - last;
}

namespace {

// Mean squared error of quantizing the samples with the range [lo, hi].
double quantization_mse(const std::vector<float>& samples, float lo, float hi, const LayerPlan& p) {
  const Affine a = activation_affine(lo, hi, p.activation_bits, p.activation_symmetric);
  const float qlo = static_cast<float>(a.lowest()), qhi = static_cast<float>(a.highest());
  double err = 0;
  for (float x : samples) {
    const float q = std::clamp(std::nearbyint((x * (1.f / a.scale) + a.offset) * (a.mul == 2 ? 0.5f : 1.f)), qlo, qhi);
    const double d = static_cast<double>(x) - a.scale * (a.mul * q - a.offset);
    err += d * d;
  }
  return err / static_cast<double>(samples.size());
}

}  // namespace

std::pair<float, float> RangeStats::choose(const LayerPlan& plan) const {
  if (count_ == 0) return {0.f, 0.f};
  float lo = std::min(min_, 0.f), hi = std::max(max_, 0.f);
  switch (plan.calibration) {
    case Calibration::kMinMax:
      return {lo, hi};
    case Calibration::kPercentile: {
      std::vector<float> s = samples_;
      std::sort(s.begin(), s.end());
      const double q = plan.percentile / 100.0;
      auto at = [&](double f) {
        const size_t i = static_cast<size_t>(std::clamp(f, 0.0, 1.0) * static_cast<double>(s.size() - 1));
        return s[i];
      };
      return {std::min(at(1.0 - q), 0.f), std::max(at(q), 0.f)};
    }
    case Calibration::kMse: {
      // Shrink the min/max range by a common factor; keep the best of a grid.
      std::vector<float> s = samples_;
      if (s.size() > 65536) {  // a strided subset keeps the search cheap
        std::vector<float> sub;
        const size_t step = s.size() / 65536 + 1;
        for (size_t i = 0; i < s.size(); i += step) sub.push_back(s[i]);
        s.swap(sub);
      }
      double best = std::numeric_limits<double>::infinity();
      std::pair<float, float> pick{lo, hi};
      for (int i = 100; i >= 5; --i) {
        const float f = static_cast<float>(i) / 100.f;
        const double e = quantization_mse(s, lo * f, hi * f, plan);
        if (e < best) {
          best = e;
          pick = {lo * f, hi * f};
        }
      }
      return pick;
    }
  }
  return {lo, hi};
}

}  // namespace bitlane::quant
