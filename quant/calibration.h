// Activation calibration: statistics of a layer's input over sample inputs,
// and the clipping range each method picks from them.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "quant/plan.h"

namespace bitlane::quant {

class RangeStats {
 public:
  RangeStats() = default;
  // keep_sample false: min, max and count only (all that min/max
  // calibration reads), without the cost of keeping the sample.
  explicit RangeStats(bool keep_sample) : keep_sample_(keep_sample) {}

  // Statistics stored by an earlier calibration without a sample (what
  // min, max and count() returned; runtime/calibration_cache.h).
  static RangeStats restored(float min, float max, int64_t count) {
    RangeStats s(false);
    s.min_ = min, s.max_ = max, s.count_ = count;
    return s;
  }

  // Adds values; keeps the exact min/max and an evenly strided sample of at
  // most kMaxSamples values for the percentile and MSE methods and the
  // exponent search.
  void add(const float* x, int64_t n);
  bool empty() const { return count_ == 0; }
  float min() const { return min_; }
  float max() const { return max_; }
  int64_t count() const { return count_; }
  // An evenly strided sample of the values seen (at most kMaxSamples).
  const std::vector<float>& samples() const { return samples_; }

  // The clipping range [lo, hi] for `bits`-bit quantization by `plan`.
  std::pair<float, float> choose(const LayerPlan& plan) const;

  static constexpr int64_t kMaxSamples = int64_t{1} << 20;

 private:
  float min_ = 0, max_ = 0;
  int64_t count_ = 0;
  int64_t stride_ = 1;   // keep every stride_-th value
  int64_t phase_ = 0;
  bool keep_sample_ = true;
  std::vector<float> samples_;
};

}  // namespace bitlane::quant
