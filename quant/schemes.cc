#include "quant/schemes.h"

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "quant/sdp.h"
#include "quant/drq_kernels.h"
#include "quant/sdp_kernels.h"

namespace bitlane::quant {
namespace {

int ceil_log2(int64_t x) {
  int r = 0;
  while ((int64_t{1} << r) < x) ++r;
  return r;
}

// The papers' weight quantizer, with magnitudes then truncated to k terms per group.
QuantizedWeights term_weights(const float* w, int64_t rows, int64_t cols, int64_t segment,
                              const LayerPlan& plan) {
  const int b = plan.weight_bits;
  QuantizedWeights out;
  out.rows = rows;
  out.cols = cols;
  out.q.resize(static_cast<size_t>(rows * cols));
  out.affine.resize(static_cast<size_t>(rows));
  out.row_sum.assign(static_cast<size_t>(rows), 0);
  // max|w| maps to 2^(b-1), so magnitudes stay <= 2^(b-1), and truncation
  // never exceeds a value's top digit (HESE digits alternate in sign with
  // falling exponents): b + 1 signed bits hold every kept weight.
  out.format = {b + 1, true};
  const bool per_channel = plan.weight_granularity == Granularity::kPerChannel;
  auto max_abs = [&](int64_t r0, int64_t r1) {
    float m = 0.f;
    for (int64_t i = r0 * cols; i < r1 * cols; ++i) m = std::max(m, std::abs(w[i]));
    return m;
  };
  const float tensor_max = per_channel ? 0.f : max_abs(0, rows);
  std::vector<int32_t> q(static_cast<size_t>(cols)), kept(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float m = per_channel ? max_abs(r, r + 1) : tensor_max;
    Affine a;
    a.format = out.format;
    a.scale = m > 0 ? m / static_cast<float>(int64_t{1} << (b - 1)) : 1.f;
    out.affine[static_cast<size_t>(r)] = a;
    const float limit = static_cast<float>((int64_t{1} << b) - 1);
    for (int64_t c = 0; c < cols; ++c) {
      const float x = w[r * cols + c];
      const float mag = std::min(std::round(std::abs(x) / a.scale), limit);  // std::round: half away from zero
      q[static_cast<size_t>(c)] = static_cast<int32_t>(x < 0 ? -mag : mag);
    }
    // Groups of `group` along each segment (short last groups are zero-padded).
    for (int64_t s0 = 0; s0 < cols; s0 += segment) {
      const int64_t len = std::min(segment, cols - s0);
      truncate_rows(std::span<const int32_t>(q).subspan(static_cast<size_t>(s0), static_cast<size_t>(len)), 1, len,
                    plan.group, plan.budget, plan.encoding,
                    std::span<int32_t>(kept).subspan(static_cast<size_t>(s0), static_cast<size_t>(len)));
    }
    int64_t sum = 0;
    for (int64_t c = 0; c < cols; ++c) {
      out.q[static_cast<size_t>(r * cols + c)] = static_cast<int16_t>(kept[static_cast<size_t>(c)]);
      sum += kept[static_cast<size_t>(c)];
    }
    out.row_sum[static_cast<size_t>(r)] = sum;
  }
  return out;
}

}  // namespace

QuantizedWeights quantize_weights_for(const float* w, int64_t rows, int64_t cols, int64_t segment,
                                      const LayerPlan& plan) {
  if (plan.scheme == Scheme::kTerm) return term_weights(w, rows, cols, segment, plan);
  return quantize_weights(w, rows, cols, plan);
}

Affine activation_affine_for(float lo, float hi, const LayerPlan& plan) {
  if (plan.scheme == Scheme::kUniform) return activation_affine(lo, hi, plan.activation_bits, plan.activation_symmetric);
  // term, sdp, drq: sign-magnitude with activation_bits of magnitude.
  const int b = plan.activation_bits;
  const float m = std::max(-std::min(lo, 0.f), std::max(hi, 0.f));
  const int32_t limit = static_cast<int32_t>((int64_t{1} << b) - 1);
  Affine a;
  a.scale = m > 0 ? m / static_cast<float>(limit) : 1.f;
  // Magnitudes up to 2^b - 1, with a sign when the range has negatives.
  a.format = lo < 0 ? swar::IntFormat{b + 1, true} : swar::IntFormat{b, false};
  a.qmin = lo < 0 ? -limit : 0;
  a.qmax = limit;
  return a;
}

swar::IntFormat activation_storage(const Affine& a, const LayerPlan& plan) {
  // A HESE truncation can round 2^b - 1 up to 2^b: one more bit.
  if (plan.scheme == Scheme::kTerm && plan.encoding == TermEncoding::kHese)
    return {a.format.bits + 1, a.format.is_signed};
  return a.format;
}

ActivationTransform::ActivationTransform(const LayerPlan& plan, const Affine& a) : plan_(plan) {
  switch (plan.scheme) {
    case Scheme::kTerm:
      if (plan.activation_group > 1) {
        kind_ = Kind::kTermGroup;
        group_ = GroupTruncator(plan.activation_bits, plan.encoding);
      } else {
        kind_ = Kind::kTermValue;
        table_ = TruncationTable(plan.activation_bits, plan.activation_terms, plan.encoding);
      }
      break;
    case Scheme::kSdp: kind_ = Kind::kSdp; break;
    case Scheme::kDrq: {
      kind_ = Kind::kDrq;
      const int64_t qmax = (int64_t{1} << a.format.bits) - 1;
      drq_threshold_ = static_cast<int64_t>(std::ceil(plan.drq_threshold * static_cast<double>(qmax)));
      break;
    }
    default: kind_ = Kind::kNone;
  }
}

namespace {

template <typename T>
int64_t magnitude_sum(const T* p, int64_t n) {
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i] < 0 ? -static_cast<int32_t>(p[i]) : static_cast<int32_t>(p[i]);
  return sum;
}

// Magnitudes to DRQ's 4-bit grid (drq_low), signs kept; branch-free so
// that long runs vectorize.
template <typename T>
void round_to_drq_low(T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = p[i], m = v < 0 ? -v : v;
    const int32_t low = std::min((m + 8) & ~15, 240);
    p[i] = static_cast<T>(v < 0 ? -low : low);
  }
}

}  // namespace

template <typename T>
int64_t ActivationTransform::apply(T* data, const ActivationLayout& l, int64_t* regions) const {
  const int64_t positions = l.height * l.width, ch = l.channels;
  int64_t sensitive = 0;
  for (int64_t it = 0; it < l.items; ++it) {
    T* item = data + it * l.item_stride;
    switch (kind_) {
      case Kind::kTermValue:
        for (int64_t i = 0; i < positions * ch; ++i) {
          const int32_t v = item[i];
          const int32_t t = table_.value[static_cast<size_t>(v < 0 ? -v : v)];
          item[i] = static_cast<T>(v < 0 ? -t : t);
        }
        break;
      case Kind::kTermGroup:
        for (int64_t p = 0; p < positions; ++p)
          for (int64_t c0 = 0; c0 < ch; c0 += plan_.activation_group)
            group_.apply(item + p * ch + c0, static_cast<int>(std::min<int64_t>(plan_.activation_group, ch - c0)),
                         plan_.activation_budget);
        break;
      case Kind::kSdp:
        if (plan_.sdp_group == 4 && ch % 4 == 0) {  // the vectorized common case, all positions at once
          detail::sdp_groups4(item, static_cast<size_t>(positions * ch / 4), plan_.sdp_keep);
        } else {
          for (int64_t p = 0; p < positions; ++p)
            for (int64_t c0 = 0; c0 < ch; c0 += plan_.sdp_group)
              sdp_truncate(item + p * ch + c0, static_cast<int>(std::min<int64_t>(plan_.sdp_group, ch - c0)),
                           plan_.sdp_keep);
        }
        break;
      case Kind::kDrq: {
        // Regions: r x r pixel blocks of an image (all channels), or runs of
        // r channels of a row; a region's mean magnitude decides. A region
        // is a few contiguous runs (one per pixel row), summed and rounded
        // run by run.
        const int64_t r = plan_.drq_region;
        const bool spatial = positions > 1;
        if constexpr (std::is_same_v<T, uint8_t>) {
          if (!spatial && r == 4 && ch % 4 == 0) {  // the vectorized common case of dense layers
            sensitive += detail::drq_regions4(item, static_cast<size_t>(ch / 4), drq_threshold_ * 4);
            if (regions) *regions += ch / 4;
            break;
          }
        }
        const int64_t rh = spatial ? r : 1, rw = spatial ? r : 1, rc = spatial ? ch : r;
        for (int64_t y0 = 0; y0 < l.height; y0 += rh)
          for (int64_t x0 = 0; x0 < l.width; x0 += rw)
            for (int64_t c0 = 0; c0 < ch; c0 += rc) {
              const int64_t y1 = std::min(l.height, y0 + rh), x1 = std::min(l.width, x0 + rw);
              const int64_t run = (x1 - x0) * std::min(rc, ch - c0);  // contiguous values per pixel row
              int64_t sum = 0;
              for (int64_t y = y0; y < y1; ++y) sum += magnitude_sum(item + (y * l.width + x0) * ch + c0, run);
              if (regions) ++*regions;
              if (sum >= drq_threshold_ * run * (y1 - y0)) {
                ++sensitive;
                continue;
              }
              for (int64_t y = y0; y < y1; ++y) round_to_drq_low(item + (y * l.width + x0) * ch + c0, run);
            }
        break;
      }
      case Kind::kNone: break;
    }
  }
  return sensitive;
}

template int64_t ActivationTransform::apply<uint8_t>(uint8_t*, const ActivationLayout&, int64_t*) const;
template int64_t ActivationTransform::apply<int8_t>(int8_t*, const ActivationLayout&, int64_t*) const;
template int64_t ActivationTransform::apply<int16_t>(int16_t*, const ActivationLayout&, int64_t*) const;

TermEncoding cost_encoding(const LayerPlan& plan) {
  return plan.scheme == Scheme::kTerm ? plan.encoding : TermEncoding::kBinary;
}

double pairs_per_mac(const LayerPlan& p, double drq_sensitive) {
  switch (p.scheme) {
    case Scheme::kFp32: return 0;
    case Scheme::kUniform: return static_cast<double>(p.weight_bits) * p.activation_bits;
    case Scheme::kTerm: {
      const double s = p.activation_group > 1 ? static_cast<double>(p.activation_budget) / p.activation_group
                                              : p.activation_terms;
      return static_cast<double>(p.budget) / p.group * s;
    }
    case Scheme::kExponential: return 1;
    case Scheme::kSdp: return static_cast<double>(p.weight_bits) * 4.0 * p.sdp_keep / p.sdp_group;
    case Scheme::kDrq: return p.weight_bits * (8.0 * drq_sensitive + 4.0 * (1 - drq_sensitive));
  }
  return 0;
}

double weight_bits_per_param(const LayerPlan& p) {
  switch (p.scheme) {
    case Scheme::kFp32: return 32;
    case Scheme::kTerm: {
      // The kept terms as a list (sign, exponent, index in the group), or the
      // truncated values stored plainly (magnitude + sign), whichever is
      // smaller: a tight budget makes the list win, a loose one the values.
      const int per_term = 1 + ceil_log2(p.weight_bits + 2) + ceil_log2(p.group);
      return std::min(static_cast<double>(p.budget) * per_term / p.group, p.weight_bits + 1.0);
    }
    case Scheme::kExponential: return p.exp_max_bits;  // the search's upper bound
    default: return p.weight_bits;
  }
}

}  // namespace bitlane::quant
