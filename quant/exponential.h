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
int16_t exp_encode(float x, const ExpParams& p);
float exp_decode(int16_t code, const ExpParams& p);

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
