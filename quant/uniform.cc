#include "quant/uniform.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "quant/quantize_kernels.h"

namespace bitlane::quant {
namespace {

// Grid position of x: mul * q - offset = x / scale  =>  q = (x / scale + offset) / mul.
template <typename T>
void quantize_to(const float* x, int64_t n, const Affine& a, T* q) {
  const float inv = 1.f / a.scale;
  const float lo = static_cast<float>(a.lowest());
  const float hi = static_cast<float>(a.highest());
  const float off = static_cast<float>(a.offset), half = a.mul == 2 ? 0.5f : 1.f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = (x[i] * inv + off) * half;
    q[i] = static_cast<T>(std::clamp(std::nearbyint(g), lo, hi));
  }
}

float safe_scale(float s) { return s > 0.f && std::isfinite(s) ? s : 1.f; }

}  // namespace

Affine activation_affine(float lo, float hi, int bits, bool symmetric) {
  if (bits < 1 || bits > 16) fail("quantization", "activation bits must be 1..16");
  lo = std::min(lo, 0.f);
  hi = std::max(hi, 0.f);
  Affine a;
  const int64_t levels = (int64_t{1} << bits) - 1;
  if (lo >= 0.f && !symmetric) {  // non-negative (after ReLU): unsigned, zero point 0
    a.format = {bits, false};
    a.scale = safe_scale(hi / static_cast<float>(levels));
    return a;
  }
  if (symmetric) {
    const float m = std::max(-lo, hi);
    if (bits == 1) {  // binary: q in {0, 1} means -s, +s
      a.format = {1, false};
      a.mul = 2;
      a.offset = 1;
      a.scale = safe_scale(m);
      return a;
    }
    a.format = {bits, true};
    a.scale = safe_scale(m / static_cast<float>((int64_t{1} << (bits - 1)) - 1));
    return a;
  }
  // Asymmetric: unsigned with a zero point inside [0, levels].
  a.format = {bits, false};
  a.scale = safe_scale((hi - lo) / static_cast<float>(levels));
  a.offset = static_cast<int32_t>(std::clamp<float>(std::nearbyint(-lo / a.scale), 0.f,
                                                    static_cast<float>(levels)));
  return a;
}

namespace {
detail::QuantizeParams params(const Affine& a) {
  return {1.f / a.scale, static_cast<float>(a.offset), a.mul == 2 ? 0.5f : 1.f,
          static_cast<float>(a.lowest()), static_cast<float>(a.highest())};
}
}  // namespace

void quantize(const float* x, int64_t n, const Affine& a, int16_t* q) { detail::quantize_i16(x, n, params(a), q); }
void quantize(const float* x, int64_t n, const Affine& a, uint8_t* q) { detail::quantize_u8(x, n, params(a), q); }
void quantize(const float* x, int64_t n, const Affine& a, int8_t* q) { detail::quantize_i8(x, n, params(a), q); }

namespace {

// The weight grid whose ends are lo and hi (symmetric: the larger of |lo|, hi).
Affine weight_grid(float lo, float hi, int bits, bool symmetric) {
  Affine a;
  const int64_t levels = (int64_t{1} << bits) - 1;
  if (symmetric) {
    const float m = std::max(-lo, hi);
    if (bits == 1) {  // binary weights: -s / +s
      a.format = {1, false};
      a.mul = 2;
      a.offset = 1;
      a.scale = safe_scale(m);
    } else {
      a.format = {bits, true};
      a.scale = safe_scale(m / static_cast<float>((int64_t{1} << (bits - 1)) - 1));
    }
  } else {
    a.format = {bits, false};
    a.scale = safe_scale((hi - lo) / static_cast<float>(levels));
    a.offset = static_cast<int32_t>(std::clamp<float>(std::nearbyint(-lo / a.scale), 0.f,
                                                      static_cast<float>(levels)));
  }
  return a;
}

// wclip=mse: the grid of [lo f, hi f] for the factor f in (0, 1] whose grid
// gives x[0, n) the least squared error -- f in steps of 0.05, then 0.01
// around the best. Scaled to the maximum, a signed 2-bit grid {-2, -1, 0, 1}
// x max|w| turns every |w| below max / 2 into 0: most of a layer (bundled
// MLP at w2a4: 20% top-1 with max, 84% with mse). Past 65536 values (a large
// tensor's one grid) the errors are measured on an evenly strided sample,
// which bounds the search's time.
// `q` is scratch for the trial quantizations, reused across a layer's rows.
Affine least_error_grid(const float* x, int64_t n, float lo, float hi, int bits, bool symmetric,
                        std::vector<int16_t>& q) {
  constexpr int64_t kSample = 65536;
  std::vector<float> sample;
  if (n > kSample) {
    sample.resize(static_cast<size_t>(kSample));
    for (int64_t i = 0; i < kSample; ++i) sample[static_cast<size_t>(i)] = x[i * n / kSample];
    x = sample.data();
    n = kSample;
  }
  q.resize(static_cast<size_t>(n));
  auto error = [&](int step) {  // f = step / 100
    const float f = static_cast<float>(step) / 100.f;
    const Affine a = weight_grid(lo * f, hi * f, bits, symmetric);
    quantize(x, n, a, q.data());  // the SIMD quantizer: the same q as quantize_to
    auto err = [&](int64_t k) {
      const double d = static_cast<double>(x[k]) - dequantize(q[static_cast<size_t>(k)], a);
      return d * d;
    };
    double e[4] = {};  // independent sums: the loop is not one chain of dependent adds
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int j = 0; j < 4; ++j) e[j] += err(i + j);
    for (; i < n; ++i) e[0] += err(i);
    return (e[0] + e[1]) + (e[2] + e[3]);
  };
  int best = 100;
  double best_error = error(100);
  auto consider = [&](int step) {
    const double e = error(step);
    if (e < best_error) best_error = e, best = step;  // ties keep the first tried
  };
  for (int step = 95; step >= 5; step -= 5) consider(step);
  const int coarse = best;
  for (int step = std::min(99, coarse + 4); step >= std::max(1, coarse - 4); --step)
    if (step != coarse) consider(step);
  const float f = static_cast<float>(best) / 100.f;
  return weight_grid(lo * f, hi * f, bits, symmetric);
}

}  // namespace

QuantizedWeights quantize_weights(const float* w, int64_t rows, int64_t cols, const LayerPlan& plan) {
  const int bits = plan.weight_bits;
  QuantizedWeights out;
  out.rows = rows;
  out.cols = cols;
  out.q.resize(static_cast<size_t>(rows * cols));
  out.affine.resize(static_cast<size_t>(rows));
  out.row_sum.assign(static_cast<size_t>(rows), 0);
  const bool per_channel = plan.weight_granularity == Granularity::kPerChannel;

  auto range = [&](int64_t r0, int64_t r1) {
    float lo = 0.f, hi = 0.f;
    for (int64_t i = r0 * cols; i < r1 * cols; ++i) {
      lo = std::min(lo, w[i]);
      hi = std::max(hi, w[i]);
    }
    return std::pair<float, float>{lo, hi};
  };

  // Row r on grid a, with its integer sum.
  auto store_row = [&](int64_t r, const Affine& a) {
    out.affine[static_cast<size_t>(r)] = a;
    int16_t* q = out.q.data() + r * cols;
    quantize_to(w + r * cols, cols, a, q);
    int64_t s = 0;
    for (int64_t c = 0; c < cols; ++c) s += q[c];
    out.row_sum[static_cast<size_t>(r)] = s;
  };
  if (plan.is<UniformOptions>() && plan.get<UniformOptions>().weights) {  // the grid training fixed
    const TrainedGrid& g = *plan.get<UniformOptions>().weights;
    g.check_rows(rows, "trained weight grid");
    for (int64_t r = 0; r < rows; ++r) store_row(r, g.affine(bits, static_cast<size_t>(r)));
    out.format = rows ? out.affine[0].format : swar::IntFormat{bits, g.is_signed};
    return out;
  }
  const bool clip_mse = plan.is<UniformOptions>() && plan.get<UniformOptions>().weight_clip == WeightClip::kMse;
  std::vector<int16_t> trial;
  auto grid_for = [&](int64_t r0, int64_t r1) {
    auto [lo, hi] = range(r0, r1);
    return clip_mse ? least_error_grid(w + r0 * cols, (r1 - r0) * cols, lo, hi, bits, plan.weight_symmetric, trial)
                    : weight_grid(lo, hi, bits, plan.weight_symmetric);
  };
  Affine tensor_affine;
  if (!per_channel) tensor_affine = grid_for(0, rows);
  for (int64_t r = 0; r < rows; ++r) store_row(r, per_channel ? grid_for(r, r + 1) : tensor_affine);
  out.format = rows ? out.affine[0].format : swar::IntFormat{bits, plan.weight_symmetric && bits > 1};
  return out;
}

}  // namespace bitlane::quant
