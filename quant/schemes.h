// The integer schemes (uniform, term, sdp, drq) as layers use them: how the
// weights become integers, which grid the activations use, the run-time
// transform applied to quantized activations, and what it all costs.
//
// term: weights follow the quantizer of the term-quantization papers
// (symmetric, scale = max|w| / 2^(b-1), magnitude = min(round_half_away(|w| /
// scale), 2^b - 1); b = weight_bits magnitude bits, per tensor or per channel)
// and keep `budget` terms per group of `group` values along the reduction
// axis; activations get `activation_bits` magnitude bits (plus a sign when
// they can be negative) and keep their `activation_terms` largest terms (or
// `activation_budget` per group of `activation_group`). A HESE truncation can
// round a magnitude up to 2^b, so the integers carry one extra bit.
// sdp / drq: uniform weights; 8-bit activation magnitudes whose parts (sdp)
// or regions (drq) are reduced at run time.
#pragma once

#include <cstdint>
#include <span>

#include "quant/plan.h"
#include "quant/uniform.h"

namespace bitlane::quant {

// Weights [rows, cols] as integers for the plan's scheme. For term groups,
// the reduction axis is cut into segments of `segment` columns (a conv's
// input channels at one kernel position) and groups never cross a segment.
QuantizedWeights quantize_weights_for(const float* w, int64_t rows, int64_t cols, int64_t segment,
                                      const LayerPlan& plan);

// The activation grid for the calibrated range [lo, hi].
Affine activation_affine_for(float lo, float hi, const LayerPlan& plan);

// The integer format the GEMM sees after the run-time transform.
swar::IntFormat activation_storage(const Affine& a, const LayerPlan& plan);

// Run-time transform of quantized activations laid out as `items` blocks of
// height x width positions of `channels` consecutive values (conv: NHWC
// images; dense: items = rows, height = width = 1). Groups run along the
// channels of one position; DRQ regions are height/width blocks (or runs of
// channels when height = width = 1). Identity for uniform.
struct ActivationLayout {
  int64_t items, height, width, channels;
  int64_t item_stride;  // elements between items (>= height * width * channels)
};
class ActivationTransform {
 public:
  ActivationTransform() = default;
  ActivationTransform(const LayerPlan& plan, const Affine& a);
  bool identity() const { return kind_ == Kind::kNone; }
  // Returns the number of DRQ regions kept at 8 bits (0 for other
  // schemes) and adds the number of regions to *regions.
  template <typename T>
  int64_t apply(T* data, const ActivationLayout& layout, int64_t* regions = nullptr) const;

 private:
  enum class Kind { kNone, kTermValue, kTermGroup, kSdp, kDrq };
  Kind kind_ = Kind::kNone;
  LayerPlan plan_;
  TruncationTable table_;
  GroupTruncator group_;
  int64_t drq_threshold_ = 0;  // sum over a region, in integer units x region size
};

// Term count of a value's magnitude under the scheme's accounting: the
// scheme's encoding for term, binary (set bits) for the others.
TermEncoding cost_encoding(const LayerPlan& plan);

// The papers' cost: term pairs per multiply-accumulate.
//   uniform: b_w x b_x; term: (k / g) x s; sdp: b_w x 4 x (K / G);
//   drq: b_w x (8 f + 4 (1 - f)) with f the sensitive share (pass it);
//   exponential: 1 (one exponent-sum count per MAC); fp32: 0 (not counted).
double pairs_per_mac(const LayerPlan& plan, double drq_sensitive = 0.5);

// Weight storage in bits per parameter: b_w for uniform / sdp / drq; for
// term the kept term list per group, k x (sign + exponent + index bits) / g,
// or b_w + 1 if that is smaller; 32 for fp32. For exponential the upper bound
// of the search (layers report their searched width themselves).
double weight_bits_per_param(const LayerPlan& plan);

}  // namespace bitlane::quant
