// Exponential quantization after DNA-TEQ (Khabbazan, Riera, Gonzalez,
// arXiv 2306.16430): a value is  x = sign * (alpha * base^e + beta)  with the
// exponent e in a window [e_min, 0]. An n-bit code is a sign bit and n - 1
// exponent bits; exponent field 0 is reserved for zero, so each sign has
// 2^(n-1) - 1 levels.
//
// Decisions on the points TECHNIQUES.md marks as reconstructed:
// - The window ends at exponent 0 (alpha absorbs the scale): e in
//   [-(L - 1), 0] with L = 2^(n-1) - 1 levels.
// - alpha and beta are fit by least squares on the sorted magnitudes, with
//   exponents reassigned to the nearest level, four rounds from beta = 0,
//   alpha = max |x|.
// - A value encodes to the nearest level; magnitudes below half the smallest
//   level encode to zero.
// - Per layer, weights and activations share the base and the bit width:
//   the search takes the smallest n (from min_bits) for which some base in
//   1.05, 1.10, ..., 2.00 keeps both relative mean squared errors at or under
//   the threshold, and among those bases the one with the least total error.
// - Dot products: either decode and multiply (fast on CPUs), or in the
//   exponent domain (exp_dot): signed histograms over exponent sums and single
//   exponents, one multiply per bin -- both are execution paths and must agree.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bitlane::quant {

struct ExpParams {
  double base = 2.0;
  double alpha = 1.0, beta = 0.0;
  int bits = 4;

  int levels() const { return (1 << (bits - 1)) - 1; }
  int e_min() const { return 1 - levels(); }
  double level(int e) const;  // alpha * base^e + beta, e in [e_min, 0]
};

// Code: 0 = zero; +i / -i (i in 1..levels) = sign * level(e_min + i - 1).
// The nearest level (ties to the lower one); magnitudes below half the lowest
// level, and NaN, encode to zero. This is the scalar reference.
int16_t exp_encode(float x, const ExpParams& p);
float exp_decode(int16_t code, const ExpParams& p);

// The same encoding at run-time speed. Choosing level i + 1 over level i is
// monotone in the magnitude, so it happens from a float cut-off on, found
// once by bisection over floats; a code is then the number of cut-offs
// reached, counted with SIMD compares (exp_kernels.cc). Equal to exp_encode
// and exp_decode for every float input (tested).
class ExpCodec {
 public:
  ExpCodec() = default;
  explicit ExpCodec(const ExpParams& p);
  int16_t encode(float x) const;
  float decode(int16_t code) const { return decoded_[static_cast<size_t>(code + levels_)]; }
  // decode(encode(x[i])) into values[i], and the codes too when `codes` is
  // not null, for i < n.
  void encode_decode(const float* x, size_t n, float* values, int16_t* codes) const;

 private:
  int levels_ = 0;
  float zero_cut_ = 0;          // smallest magnitude that is not zero
  std::vector<float> cut_;      // cut_[i]: smallest magnitude coded above level i
  std::vector<float> level_;    // level_[i] = level(e_min + i) as float
  std::vector<float> decoded_;  // decoded_[code + levels]
};

// Fits alpha and beta for the magnitudes of `samples`.
ExpParams fit_exponential(std::span<const float> samples, double base, int bits);
// Relative mean squared error: sum (x - decode(encode(x)))^2 / sum x^2.
double exp_error(std::span<const float> samples, const ExpParams& p);

struct ExpSearch {
  ExpParams weights, activations;
  double weight_error = 0, activation_error = 0;
};
ExpSearch search_exponential(std::span<const float> weights, std::span<const float> activations,
                             double threshold, int min_bits, int max_bits, double fixed_base = 0);

// sum_i decode(w_i) decode(x_i) computed as
//   aw ax sum s b^(ew+ex) + aw bx sum s b^ew + bw ax sum s b^ex + bw bx sum s
// with signed histograms over exponents (s = sign_w sign_x, zeros skipped).
double exp_dot(std::span<const int16_t> w, const ExpParams& pw, std::span<const int16_t> x,
               const ExpParams& px);

}  // namespace bitlane::quant
