#include "quant/exponential.h"

#include <algorithm>
#include <cmath>
#include <bit>
#include <limits>

#include "core/error.h"
#include "quant/exp_kernels.h"

namespace bitlane::quant {

double ExpParams::level(int e) const { return alpha * std::pow(base, e) + beta; }

int16_t exp_encode(float x, const ExpParams& p) {
  const double t = std::abs(static_cast<double>(x));
  const double lowest = p.level(p.e_min());
  if (!(t >= lowest / 2) || t == 0) return 0;
  // Outside the levels: the nearest end (no distance arithmetic, which
  // would lose the difference to rounding for huge magnitudes).
  if (t >= p.level(0)) return x < 0 ? static_cast<int16_t>(-p.levels()) : static_cast<int16_t>(p.levels());
  if (t <= lowest) return x < 0 ? int16_t{-1} : int16_t{1};
  // Nearest level: the log gives the neighbourhood, the neighbours decide.
  int e = p.e_min();
  if (t - p.beta > 0) e = static_cast<int>(std::floor(std::log((t - p.beta) / p.alpha) / std::log(p.base)));
  e = std::clamp(e, p.e_min(), 0);
  int best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (int c : {e - 1, e, e + 1})  // ascending with strict <: ties go to the lower level
    if (c >= p.e_min() && c <= 0 && std::abs(p.level(c) - t) < best_d) {
      best = c;
      best_d = std::abs(p.level(c) - t);
    }
  const int16_t index = static_cast<int16_t>(best - p.e_min() + 1);
  return x < 0 ? static_cast<int16_t>(-index) : index;
}

namespace {

// The smallest non-negative float for which `pred` holds (pred monotone:
// false, then true), or +inf's successor range end (+inf) if none below.
template <class Pred>
float first_float(Pred pred) {
  uint32_t lo = 0, hi = 0x7f800000u;  // bit patterns of 0 and +inf, ordered like the values
  if (pred(0.f)) return 0.f;
  while (hi - lo > 1) {  // pred(lo) false, pred(hi) assumed true
    const uint32_t mid = lo + (hi - lo) / 2;
    if (pred(std::bit_cast<float>(mid))) hi = mid;
    else lo = mid;
  }
  return std::bit_cast<float>(hi);
}

}  // namespace

ExpCodec::ExpCodec(const ExpParams& p) : levels_(p.levels()) {
  // The decisions exactly as exp_encode makes them, in doubles.
  const double zero_below = p.level(p.e_min()) / 2;
  zero_cut_ = first_float([&](float t) { return static_cast<double>(t) >= zero_below && t > 0; });
  for (int i = 0; i + 1 < levels_; ++i) {
    const double lo = p.level(p.e_min() + i), hi = p.level(p.e_min() + i + 1);
    cut_.push_back(first_float([&](float f) {
      const double t = f;
      return t >= hi || std::abs(hi - t) < std::abs(lo - t);
    }));
  }
  decoded_.resize(static_cast<size_t>(2 * levels_ + 1));
  for (int c = -levels_; c <= levels_; ++c)
    decoded_[static_cast<size_t>(c + levels_)] = exp_decode(static_cast<int16_t>(c), p);
  level_.assign(decoded_.begin() + levels_ + 1, decoded_.end());
}

int16_t ExpCodec::encode(float x) const {
  const float t = std::abs(x);
  if (!(t >= zero_cut_)) return 0;  // also NaN
  const int16_t index = static_cast<int16_t>(1 + (std::upper_bound(cut_.begin(), cut_.end(), t) - cut_.begin()));
  return x < 0 ? static_cast<int16_t>(-index) : index;
}

void ExpCodec::encode_decode(const float* x, size_t n, float* values, int16_t* codes) const {
  detail::exp_encode_decode(x, n, zero_cut_, cut_.data(), cut_.size(), level_.data(), values, codes);
}

float exp_decode(int16_t code, const ExpParams& p) {
  if (code == 0) return 0.f;
  const int e = p.e_min() + std::abs(code) - 1;
  const double v = p.level(e);
  return static_cast<float>(code < 0 ? -v : v);
}

namespace {

// Non-zero magnitudes of the samples, ascending: what the fit works on.
std::vector<double> sorted_magnitudes(std::span<const float> samples) {
  std::vector<double> t;
  for (float v : samples)
    if (v != 0.f) t.push_back(std::abs(static_cast<double>(v)));
  std::sort(t.begin(), t.end());
  return t;
}

ExpParams fit_sorted(const std::vector<double>& t, double base, int bits) {
  if (!(base > 1.0)) fail("exponential quantization", "base must be greater than 1");
  if (bits < 2 || bits > 12) fail("exponential quantization", "bits must be 2..12");
  ExpParams p;
  p.base = base;
  p.bits = bits;
  if (t.empty()) return p;
  p.alpha = t.back();
  p.beta = 0;
  const size_t levels = static_cast<size_t>(p.levels());
  std::vector<double> power(levels), half_up(levels);  // base^e and base^(e + 1/2), e in [e_min, 0]
  for (int e = p.e_min(); e <= 0; ++e) {
    power[static_cast<size_t>(e - p.e_min())] = std::pow(base, e);
    half_up[static_cast<size_t>(e - p.e_min())] = std::pow(base, e + 0.5);
  }
  for (int round = 0; round < 4; ++round) {
    // Exponent of each magnitude under the current fit -- the nearest e in
    // log_base((v - beta) / alpha), clamped to the window -- then least
    // squares of t = alpha u + beta with u = base^e. The magnitudes are
    // sorted, so the exponent only grows: step it past the rounding
    // boundaries beta + alpha base^(e + 1/2) instead of taking logarithms.
    double su = 0, st = 0, suu = 0, sut = 0;
    size_t e = 0;  // index into the window
    for (double v : t) {
      while (e + 1 < levels && v >= p.beta + p.alpha * half_up[e]) ++e;
      const double u = power[e];
      su += u;
      st += v;
      suu += u * u;
      sut += u * v;
    }
    const double n = static_cast<double>(t.size()), det = n * suu - su * su;
    if (std::abs(det) < 1e-300) break;
    const double alpha = (n * sut - su * st) / det, beta = (st - alpha * su) / n;
    if (!(alpha > 0) || !std::isfinite(alpha) || !std::isfinite(beta)) break;
    p.alpha = alpha;
    p.beta = beta;
  }
  return p;
}

}  // namespace

ExpParams fit_exponential(std::span<const float> samples, double base, int bits) {
  return fit_sorted(sorted_magnitudes(samples), base, bits);
}

double exp_error(std::span<const float> samples, const ExpParams& p) {
  const ExpCodec codec(p);
  double err = 0, ref = 0;
  for (float v : samples) {
    const double d = static_cast<double>(v) - codec.decode(codec.encode(v));
    err += d * d;
    ref += static_cast<double>(v) * v;
  }
  return ref > 0 ? err / ref : 0;
}

ExpSearch search_exponential(std::span<const float> weights, std::span<const float> activations,
                             double threshold, int min_bits, int max_bits, double fixed_base) {
  if (min_bits < 2 || max_bits > 12 || min_bits > max_bits)
    fail("exponential quantization", "bit range must lie in 2..12");
  if (fixed_base != 0 && !(fixed_base > 1.0)) fail("exponential quantization", "base must be greater than 1");
  // Large tensors are represented by quantiles: at most kSamples evenly
  // spaced values of the sorted magnitudes (the error is symmetric in the
  // sign), which keeps the search to well under a second per layer.
  constexpr size_t kSamples = 1 << 16;
  auto reduce = [](std::span<const float> v, std::vector<float>& store) {
    if (v.size() <= kSamples) return v;
    store.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) store[i] = std::abs(v[i]);
    std::sort(store.begin(), store.end());
    std::vector<float> q(kSamples);
    for (size_t i = 0; i < kSamples; ++i) q[i] = store[(2 * i + 1) * store.size() / (2 * kSamples)];
    store = std::move(q);
    return std::span<const float>(store);
  };
  std::vector<float> w_store, a_store;
  weights = reduce(weights, w_store);
  activations = reduce(activations, a_store);
  // Sorted once: every base and width below fits the same magnitudes.
  const std::vector<double> w_sorted = sorted_magnitudes(weights), a_sorted = sorted_magnitudes(activations);
  std::vector<double> bases;
  if (fixed_base > 0)
    bases.push_back(fixed_base);
  else
    for (int i = 21; i <= 40; ++i) bases.push_back(i * 0.05);
  // The first width with a base under the threshold; there, the base with
  // the least total error. If no width reaches it, the best at max_bits.
  ExpSearch best, fallback;
  double best_total = std::numeric_limits<double>::infinity(), fallback_total = best_total;
  for (int bits = min_bits; bits <= max_bits; ++bits) {
    for (double b : bases) {
      ExpSearch s;
      s.weights = fit_sorted(w_sorted, b, bits);
      s.activations = fit_sorted(a_sorted, b, bits);
      s.weight_error = exp_error(weights, s.weights);
      s.activation_error = exp_error(activations, s.activations);
      const double total = s.weight_error + s.activation_error;
      if (s.weight_error <= threshold && s.activation_error <= threshold && total < best_total) {
        best = s;
        best_total = total;
      }
      if (bits == max_bits && total < fallback_total) {
        fallback = s;
        fallback_total = total;
      }
    }
    if (best_total < std::numeric_limits<double>::infinity()) return best;
  }
  return fallback;
}

double exp_dot(std::span<const int16_t> w, const ExpParams& pw, std::span<const int16_t> x,
               const ExpParams& px) {
  if (w.size() != x.size()) fail("exp_dot", "vectors differ in length");
  if (pw.base != px.base) fail("exp_dot", "weights and activations must share the base");
  const int lw = pw.levels(), lx = px.levels();
  // Exponent indices (0-based within each window) and their sums.
  std::vector<int64_t> h1(static_cast<size_t>(lw + lx)), h2(static_cast<size_t>(lw)), h3(static_cast<size_t>(lx));
  int64_t s4 = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0 || x[i] == 0) continue;
    const int s = (w[i] < 0) == (x[i] < 0) ? 1 : -1;
    const int iw = std::abs(w[i]) - 1, ix = std::abs(x[i]) - 1;
    h1[static_cast<size_t>(iw + ix)] += s;
    h2[static_cast<size_t>(iw)] += s;
    h3[static_cast<size_t>(ix)] += s;
    s4 += s;
  }
  double s1 = 0, s2 = 0, s3 = 0;
  for (size_t j = 0; j < h1.size(); ++j)
    if (h1[j]) s1 += static_cast<double>(h1[j]) * std::pow(pw.base, pw.e_min() + px.e_min() + static_cast<int>(j));
  for (size_t j = 0; j < h2.size(); ++j)
    if (h2[j]) s2 += static_cast<double>(h2[j]) * std::pow(pw.base, pw.e_min() + static_cast<int>(j));
  for (size_t j = 0; j < h3.size(); ++j)
    if (h3[j]) s3 += static_cast<double>(h3[j]) * std::pow(px.base, px.e_min() + static_cast<int>(j));
  return pw.alpha * px.alpha * s1 + pw.alpha * px.beta * s2 + pw.beta * px.alpha * s3 +
         pw.beta * px.beta * static_cast<double>(s4);
}

}  // namespace bitlane::quant
