// Term quantization (Kung, McDanel, Zhang: "Term Quantization", SC20, and
// "Term Revealing", arXiv 2007.06389). A sign-magnitude integer is a sum of
// signed power-of-two terms:
//   binary: one +2^i per set bit of the magnitude;
//   HESE:   signed digits from runs of ones (a lone one at bit i gives +2^i, a
//           run over bits l..h gives +2^(h+1) - 2^l), never more terms than binary.
// Term quantization keeps, for each group of g values, only the k largest
// terms of the group (ties to the lower value index); activations keep the s
// largest terms of each value (g = 1, k = s).
//
// Decisions on the points TECHNIQUES.md leaves open:
// - A truncated value is the sum of its kept terms (the hardware's view), and
//   the integer kernels run on those sums: bit-exact with the term-pair dot
//   product (term_pair_dot), which is kept as the reference and cost model.
// - Terms are ranked by exponent only; equal exponents go to the lower value
//   index. The sign plays no part in the ranking.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace bitlane::quant {

enum class TermEncoding { kBinary, kHese };
const char* encoding_name(TermEncoding e);

struct Term {
  int8_t sign;      // +1 or -1
  uint8_t exponent;
};

// Terms of a magnitude (< 2^16) in strictly decreasing exponent order; writes
// at most 17 and returns how many.
int terms_of(uint32_t magnitude, TermEncoding e, Term* out);
int term_count(uint32_t magnitude, TermEncoding e);

// Keeps the k largest terms of the group values[0..n) (sign-magnitude: the
// sign of each value multiplies its terms); writes the truncated values.
// Returns the number of terms kept.
int truncate_group(std::span<const int32_t> values, int k, TermEncoding e, std::span<int32_t> out);

// Each value keeps its own s largest terms.
int32_t truncate_value(int32_t value, int s, TermEncoding e);

// Truncates every group of g consecutive values of each row of a
// rows x cols matrix (the last group of a row may be shorter: it is treated as
// zero-padded). `stride` separates the members of a group (1: consecutive;
// for conv weights [Cout, kh, kw, Cin] use 1 for groups of channels).
// Returns the total number of kept terms.
int64_t truncate_rows(std::span<const int32_t> values, int64_t rows, int64_t cols, int g, int k,
                      TermEncoding e, std::span<int32_t> out);

// The dot product as the papers count it: every pair of a term of w_i and a
// term of x_i adds sw sx 2^(e + f) to a counter per exponent sum; the result
// is sum_c count[c] 2^c. Equal to sum w_i x_i (the reference for the kernels).
// `pairs` receives the number of term pairs.
int64_t term_pair_dot(std::span<const int32_t> w, std::span<const int32_t> x, TermEncoding e,
                      int64_t* pairs = nullptr);

// Mean and maximum term count over all magnitudes of `bits` bits.
struct TermStats {
  double mean;
  int max;
};
TermStats term_statistics(int bits, TermEncoding e);

// Lookup tables for activations of at most 16 bits: for every magnitude, its
// value truncated to s terms and the number of terms kept.
struct TruncationTable {
  TruncationTable() = default;
  TruncationTable(int bits, int s, TermEncoding e);
  std::vector<int32_t> value;
  std::vector<uint8_t> terms;
};

// Group truncation at run-time speed for magnitudes of at most `bits` bits
// (activations with group selection): each magnitude's terms as two bit
// masks (positive and negative digits); per group a count of terms per
// exponent finds the cut exponent E, every term above E stays and the first
// (by index) of those at E fill the budget. No lists, no sorting; equal to
// truncate_group (tested).
class GroupTruncator {
 public:
  GroupTruncator() = default;
  GroupTruncator(int bits, TermEncoding e);
  // Truncates values[0..n) in place to the k largest terms; returns the
  // number kept.
  template <typename T>
  int apply(T* values, int n, int k) const;

 private:
  TermEncoding encoding_ = TermEncoding::kBinary;
  std::vector<uint32_t> pos_, neg_;  // per magnitude: exponents of +2^e and -2^e digits
};

}  // namespace bitlane::quant
